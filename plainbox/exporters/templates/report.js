// Filtering for the plainbox HTML report.  The page is complete without
// this script; it only shows the filter bar and hides rows.  It reads what
// it needs from the markup (data-outcome attributes, the text of elements
// marked data-s) and never writes HTML, only the hidden flag and one
// textContent.
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form || !document.querySelectorAll) {
    return;
  }
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.job"));
  var sections = Array.prototype.slice.call(
    document.querySelectorAll("section.category")
  );
  var boxes = Array.prototype.slice.call(
    form.querySelectorAll("input[name='outcome']")
  );
  var search = form.querySelector("input[type='search']");
  var status = document.getElementById("filter-status");

  // The searchable text of each row, read once: searching then costs one
  // indexOf per row instead of walking the DOM on every key press.
  var texts = rows.map(function (row) {
    var parts = Array.prototype.map.call(
      row.querySelectorAll("[data-s]"),
      function (element) {
        return element.textContent;
      }
    );
    return parts.join("\n").toLowerCase();
  });

  function apply() {
    var wanted = {};
    boxes.forEach(function (box) {
      if (box.checked) {
        wanted[box.value] = true;
      }
    });
    var terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (row, index) {
      var visible =
        wanted[row.getAttribute("data-outcome")] === true &&
        terms.every(function (term) {
          return texts[index].indexOf(term) !== -1;
        });
      row.hidden = !visible;
      if (visible) {
        shown += 1;
      }
    });
    sections.forEach(function (section) {
      section.hidden = section.querySelector("tr.job:not([hidden])") === null;
    });
    status.textContent = shown + " of " + rows.length + " jobs shown";
  }

  function select(which) {
    boxes.forEach(function (box) {
      box.checked = which === "all" || box.hasAttribute("data-problem");
    });
    apply();
  }

  Array.prototype.forEach.call(
    form.querySelectorAll("button[data-select]"),
    function (button) {
      button.addEventListener("click", function () {
        select(button.getAttribute("data-select"));
      });
    }
  );
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
  });
  form.hidden = false;
  apply();
})();
