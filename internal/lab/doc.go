// Package lab is dpdk-doctor's test bed on real Linux kernels: it boots Debian's own kernels
// (6.1 from bookworm, 6.12 from bookworm-backports) under QEMU (TCG) on a machine described in
// Go — q35 with an emulated Intel IOMMU, PCIe root ports with physical slots, a PCIe switch,
// multi-function devices, e1000e NICs, a USB controller, a display device and a conventional PCI
// bridge — with a firmware DMAR table built by the project's own dmar encoder (QEMU's DRHD plus
// our RMRRs) and handed in by ACPI table upgrade; an AMD machine (amd-iommu) gets an IVRS of
// the lab's own with IVMDs the same way. The guest runs the project's static binary
// (devices, check, probe) from an initramfs built here, and its answers come back over a second
// serial port as framed, base64-encoded sections. The kernel is the judge of every RMRR verdict.
//
// Nothing here changes the machine it runs on: kernels are fetched with `apt-get download`
// through a private sources list into a cache directory, every boot works in its own temporary
// directory, and QEMU is killed on timeout; both are gone when Run returns.
package lab
