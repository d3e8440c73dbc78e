#!/usr/bin/env bash
# Builds the Debian packages dist/dpdk-doctor_VERSION_amd64.deb and _arm64.deb with nfpm:
# the static binary (CGO_ENABLED=0, -trimpath, the version in main.version), man pages and
# bash/zsh/fish completions generated from the commands, the systemd units of contrib/, the
# copyright file, a changelog, and the Ansible collection when ./ansible exists.
#
# Reproducible: every date comes from SOURCE_DATE_EPOCH (default: the last commit's time).
# VERSION: $VERSION, else `git describe --tags` (without the leading v), else ./VERSION, else
# 0.0~gitYYYYMMDD.COMMIT. ARCHS: the architectures to build (default "amd64 arm64"). DIST: where
# the packages go (default ./dist).
set -euo pipefail
cd "$(dirname "$0")/.."

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.43.0
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 1767225600)}
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ -z "${VERSION:-}" ]; then
  if v=$(git describe --tags --match 'v[0-9]*' 2>/dev/null); then
    VERSION=${v#v}
  elif [ -f VERSION ]; then
    VERSION=$(tr -d ' \n' < VERSION)
  else
    VERSION="0.0~git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d).${commit:0:12}"
  fi
fi
VERSION=${VERSION//-/.}   # a native package: no Debian revision
case $VERSION in [0-9]*) ;; *) echo "deb.sh: VERSION=$VERSION: must start with a digit" >&2; exit 2;; esac
export VERSION

DIST=$(mkdir -p "${DIST:-dist}" && cd "${DIST:-dist}" && pwd)
export BUILD=$DIST/build
rm -rf "$BUILD"
mkdir -p "$BUILD/man" "$BUILD/completions"
ldflags="-s -w -buildid= -X main.version=$VERSION -X main.commit=$commit"

echo "== man pages and completions ($VERSION)"
CGO_ENABLED=0 go build -trimpath -tags dpdkdoctor_gendocs -ldflags "$ldflags" -o "$BUILD/gendocs" ./cmd/dpdk-doctor
"$BUILD/gendocs" gendocs --man "$BUILD/man" --completions "$BUILD/completions"
gzip -9n "$BUILD"/man/*.1

date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
{
  echo "dpdk-doctor ($VERSION) unstable; urgency=medium"
  echo
  echo "  * Built from commit $commit."
  echo
  echo " -- dpdk-doctor maintainers <dpdk-doctor@users.noreply.github.com>  $date"
} > "$BUILD/changelog"
gzip -9n "$BUILD/changelog"

cp packaging/nfpm.yaml "$BUILD/nfpm.yaml"
if [ -d ansible ]; then
  # The collection's modules are links to bin/dpdk-doctor, which a checkout does not hold (it is
  # built for the hosts' architecture); in the package that link leads to the installed binary.
  mkdir -p "$BUILD/ansible"
  cp -a ansible/ansible_collections "$BUILD/ansible/"
  for c in "$BUILD"/ansible/ansible_collections/*/*/; do
    rm -rf "${c}bin"
    mkdir -p "${c}bin"
    ln -s ../../../../../../../bin/dpdk-doctor "${c}bin/dpdk-doctor"   # /usr/bin/dpdk-doctor, relative as policy wants
  done
  cat >> "$BUILD/nfpm.yaml" <<EOF
  - src: $BUILD/ansible
    dst: /usr/share/dpdk-doctor/ansible
    type: tree
EOF
fi

for ARCH in ${ARCHS:-amd64 arm64}; do
  export ARCH
  echo "== $ARCH"
  CGO_ENABLED=0 GOOS=linux GOARCH=$ARCH go build -trimpath -ldflags "$ldflags" -o "$BUILD/bin/dpdk-doctor" ./cmd/dpdk-doctor
  find "$BUILD" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  deb=$DIST/dpdk-doctor_${VERSION}_${ARCH}.deb
  rm -f "$deb"
  go run "$NFPM" package --config "$BUILD/nfpm.yaml" --packager deb --target "$deb"
done
