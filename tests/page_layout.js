// Injected into a copy of a report page by tests/test_page.py; writes what a reader would see go wrong
// as JSON into a pre element with id neurophys-layout, which `chromium --dump-dom` hands back.
(function () {
  function where(el) {
    var s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    if (el.className && typeof el.className === "string") s += "." + el.className.trim().split(/\s+/).join(".");
    var section = "";
    for (var p = el; p && !section; p = p.previousElementSibling || p.parentElement) {
      if (p.tagName === "H2" || p.tagName === "H3") section = p.textContent.trim().slice(0, 60);
    }
    return s + " [" + (el.textContent || el.alt || "").trim().replace(/\s+/g, " ").slice(0, 50) + "]"
      + (section ? " under '" + section + "'" : "");
  }
  function inScroller(el) {
    for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      var o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") return true;
    }
    return false;
  }
  function check() {
    var view = document.documentElement.clientWidth, out = {
      viewport: view, pageWidth: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
      cellOverflow: [], outOfView: [], brokenImages: [], images: 0, fonts: [], scrollers: []
    };
    document.querySelectorAll("td, th").forEach(function (c) {
      if (c.scrollWidth > c.clientWidth + 1) out.cellOverflow.push(where(c) + " " + c.scrollWidth + ">" + c.clientWidth);
    });
    document.querySelectorAll("body *").forEach(function (el) {
      var r = el.getBoundingClientRect();
      if (r.width === 0 || inScroller(el)) return;
      if (r.right > view + 1 || r.left < -1) out.outOfView.push(where(el) + " x=" + Math.round(r.left) + ".." + Math.round(r.right));
    });
    document.querySelectorAll(".scroll").forEach(function (el) {
      if (el.scrollWidth > el.clientWidth + 1) out.scrollers.push(where(el.firstElementChild || el) + " " + el.scrollWidth + ">" + el.clientWidth);
    });
    document.querySelectorAll("img").forEach(function (img) {
      out.images += 1;
      if (!img.complete || img.naturalWidth === 0) out.brokenImages.push(where(img));
    });
    document.fonts.forEach(function (f) { out.fonts.push(f.family + ": " + f.status); });
    var pre = document.createElement("pre");
    pre.id = "neurophys-layout";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  window.addEventListener("load", function () {
    var faces = [];
    document.fonts.forEach(function (f) { faces.push(f.load().catch(function () {})); });
    Promise.all(faces).then(check, check);
  });
})();
