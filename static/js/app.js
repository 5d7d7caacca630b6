// Ask before anything destructive: forms, or the button pressed, carrying data-confirm need a yes first.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var message = (button && button.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// Pickers: the search box beside a select of matches becomes a combobox that asks the server as one
// types (the ARIA 1.2 combobox pattern). The select stays the form's value, holding the one chosen row;
// without this script the form still works: type, save, and the select lists that text's matches.
(function () {
  var DELAY_MS = 200;

  function enhance(box) {
    var input = document.getElementById(box.getAttribute("data-picker-input"));
    var select = document.getElementById(box.getAttribute("data-picker-select"));
    var url = box.getAttribute("data-picker-url");
    var listbox = document.createElement("ul");
    var status = document.createElement("div");
    var options = [];
    var active = -1;
    var nextCursor = null;
    var timer = null;
    var asked = 0;

    listbox.id = select.id + "-listbox";
    listbox.setAttribute("role", "listbox");
    listbox.hidden = true;
    status.className = "picker-status";
    status.setAttribute("role", "status");
    box.appendChild(listbox);
    box.appendChild(status);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listbox.id);
    var label = document.querySelector('label[for="' + select.id + '"]');
    if (label) { label.htmlFor = input.id; }
    var chosen = select.options[select.selectedIndex];
    if (chosen && chosen.value) { input.value = chosen.textContent; }
    var blank = select.options[0].cloneNode(true);
    select.hidden = true;
    var hint = box.querySelector(".picker-hint");
    if (hint) { hint.textContent = "Type part of a name, then choose with the arrow keys and Enter, or click."; }

    function choose(item) {
      select.innerHTML = "";
      var option = document.createElement("option");
      option.value = item.id;
      option.textContent = item.label;
      option.selected = true;
      select.appendChild(option);
      input.value = item.label;
      close();
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function clearChoice() {
      select.innerHTML = "";
      select.appendChild(blank.cloneNode(true));
    }

    function close() {
      listbox.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      options.forEach(function (node, i) { node.setAttribute("aria-selected", i === index ? "true" : "false"); });
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      }
    }

    function render(items, append) {
      if (!append) { listbox.innerHTML = ""; options = []; }
      var more = listbox.querySelector(".picker-more");
      if (more) { listbox.removeChild(more); options.pop(); }
      items.forEach(function (item) {
        var node = document.createElement("li");
        node.id = listbox.id + "-" + item.id;
        node.setAttribute("role", "option");
        node.setAttribute("aria-selected", "false");
        node.textContent = item.label;
        node.addEventListener("mousedown", function (event) { event.preventDefault(); choose(item); });
        listbox.appendChild(node);
        options.push(node);
      });
      if (nextCursor) {
        var next = document.createElement("li");
        next.id = listbox.id + "-more";
        next.className = "picker-more";
        next.setAttribute("role", "option");
        next.setAttribute("aria-selected", "false");
        next.textContent = "More matches…";
        next.addEventListener("mousedown", function (event) { event.preventDefault(); ask(true); });
        listbox.appendChild(next);
        options.push(next);
      }
      listbox.hidden = options.length === 0;
      input.setAttribute("aria-expanded", options.length ? "true" : "false");
      status.textContent = items.length || append ? (options.length - (nextCursor ? 1 : 0)) + " matches shown" :
        "No matches";
    }

    function ask(append) {
      var ticket = ++asked;
      var address = url + (url.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(input.value.trim());
      if (append && nextCursor) { address += "&cursor=" + encodeURIComponent(nextCursor); }
      fetch(address, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
        .then(function (page) {
          if (ticket !== asked) { return; } // an answer to an older keystroke
          nextCursor = page.next_cursor;
          render(page.items, append);
        })
        .catch(function () { status.textContent = "Could not load matches; try again."; });
    }

    input.addEventListener("input", function () {
      clearChoice();
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { ask(false); }, DELAY_MS);
    });
    input.addEventListener("focus", function () { if (!select.value) { ask(false); } });
    input.addEventListener("blur", close);
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (listbox.hidden) { ask(false); return; }
        var step = event.key === "ArrowDown" ? 1 : -1;
        highlight(Math.max(0, Math.min(options.length - 1, active + step)));
      } else if (event.key === "Enter" && !listbox.hidden && active >= 0) {
        event.preventDefault(); // picking, not submitting the form
        options[active].dispatchEvent(new MouseEvent("mousedown"));
      } else if (event.key === "Escape" && !listbox.hidden) {
        event.preventDefault();
        close();
      }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-picker-url]"), enhance);
})();

// A "pick all" box ticks or clears every box its data-check-all selector names.
document.addEventListener("change", function (event) {
  var selector = event.target.getAttribute && event.target.getAttribute("data-check-all");
  if (selector) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), function (box) {
      box.checked = event.target.checked;
    });
  }
});

// CE rule topics: rows of topic and hours. The page offers a few blank rows for use without scripts; with
// them, "Add a topic" copies a blank row (numbered after the last, as WTForms reads topics-N-field) and
// "Remove" takes a row out, so its topic is no longer sent.
(function () {
  function renumber(row, index) {
    Array.prototype.forEach.call(row.querySelectorAll("[name]"), function (input) {
      var name = input.getAttribute("name").replace(/^topics-[0-9]+-/, "topics-" + index + "-");
      input.setAttribute("name", name);
      input.id = name;
      var label = input.getAttribute("aria-label");
      if (label) {
        input.setAttribute("aria-label", label.replace(/row [0-9]+$/, "row " + (index + 1)));
      }
      input.removeAttribute("aria-invalid");
    });
    Array.prototype.forEach.call(row.querySelectorAll(".error"), function (note) { note.remove(); });
  }

  function setUp(box) {
    var body = box.querySelector("tbody");
    var add = box.querySelector("[data-add-topic-row]");
    var next = body.querySelectorAll("[data-topic-row]").length;
    var pattern = body.querySelector("[data-topic-row]").cloneNode(true);
    Array.prototype.forEach.call(box.querySelectorAll("[data-remove-topic-row]"), function (b) { b.hidden = false; });
    add.hidden = false;
    add.addEventListener("click", function () {
      var row = pattern.cloneNode(true);
      renumber(row, next);
      next += 1;
      Array.prototype.forEach.call(row.querySelectorAll("select, input"), function (input) { input.value = ""; });
      row.querySelector("[data-remove-topic-row]").hidden = false;
      body.appendChild(row);
      row.querySelector("select").focus();
    });
    body.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-topic-row]");
      if (button) {
        button.closest("[data-topic-row]").remove();
        add.focus();
      }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-topic-rows]"), setUp);
})();
