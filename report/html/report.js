// Highlight every box of the IOMMU group under the pointer, and expand or collapse every folded
// run. Nothing here loads anything.
(function () {
  "use strict";
  var boxes = document.querySelectorAll("li.grp[data-group]");
  function mark(id, on) {
    if (id === "-1") { return; }
    var same = document.querySelectorAll('li.grp[data-group="' + id + '"]');
    for (var i = 0; i < same.length; i++) { same[i].classList.toggle("hl", on); }
  }
  for (var i = 0; i < boxes.length; i++) {
    boxes[i].addEventListener("mouseenter", function (e) { mark(e.currentTarget.dataset.group, true); });
    boxes[i].addEventListener("mouseleave", function (e) { mark(e.currentTarget.dataset.group, false); });
  }
  function all(open) {
    var ds = document.querySelectorAll("#tree details");
    for (var i = 0; i < ds.length; i++) { ds[i].open = open; }
  }
  document.getElementById("expand").addEventListener("click", function () { all(true); });
  document.getElementById("collapse").addEventListener("click", function () { all(false); });
  // Opening a link to a device inside a folded run opens the run.
  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    for (var p = el; p; p = p.parentElement) { if (p.tagName === "DETAILS") { p.open = true; } }
    if (el) { el.scrollIntoView({block: "center"}); }
  }
  window.addEventListener("hashchange", reveal);
  reveal();
  document.body.dataset.ready = "1";
})();
