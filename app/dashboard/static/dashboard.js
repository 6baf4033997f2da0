// The dashboard's only script: keyboard shortcuts for reviewing, and "copy" for a new key.
// Every form works without it.
"use strict";

const typing = (el) => el instanceof HTMLElement && el.closest("input, textarea, select, [contenteditable]");

function rows(table) {
  return [...table.querySelectorAll("tr[data-row]")];
}

function select(table, index) {
  const all = rows(table);
  if (!all.length) return null;
  const i = Math.max(0, Math.min(index, all.length - 1));
  all.forEach((row, j) => {
    row.classList.toggle("is-selected", j === i);
    if (j === i) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
  });
  all[i].tabIndex = -1;
  all[i].focus();
  return all[i];
}

function current(table) {
  return table.querySelector("tr[data-row].is-selected");
}

function act(scope, key) {
  if (!scope) return false;
  if (key === "c") {
    const form = scope.querySelector('form[data-action="confirm"]');
    if (form) form.requestSubmit();
    return Boolean(form);
  }
  if (key === "r") {
    const reason = scope.querySelector("[data-reason]");
    if (reason) reason.focus();
    return Boolean(reason);
  }
  if (key === "o" || key === "Enter") {
    const link = scope.querySelector("a[data-open]");
    if (link) link.click();
    return Boolean(link);
  }
  return false;
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  const search = document.querySelector("[data-search]");
  if (event.key === "/" && search) {
    search.focus();
    event.preventDefault();
    return;
  }
  const queue = document.querySelector('[data-shortcuts="queue"]');
  if (queue) {
    const selected = current(queue);
    const at = rows(queue).indexOf(selected);
    let done = true;
    if (event.key === "j") select(queue, at + 1);
    else if (event.key === "k") select(queue, at < 0 ? 0 : at - 1);
    // with no case selected yet, c/r/o only select the first one: a stray key never acts
    else if (["c", "r", "o"].includes(event.key)) done = selected ? act(selected, event.key) : Boolean(select(queue, 0));
    else if (event.key === "Enter" && selected && event.target === selected) done = act(selected, "o");
    else done = false;
    if (done) event.preventDefault();
    return;
  }
  const decide = document.querySelector('[data-shortcuts="case"]');
  if (decide && (event.key === "c" || event.key === "r") && act(decide, event.key)) {
    event.preventDefault();
  }
});

// Escape leaves a reason field and returns to its row.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || !(event.target instanceof HTMLElement)) return;
  if (!event.target.matches("[data-reason]")) return;
  const row = event.target.closest("tr[data-row]");
  if (row) row.focus();
  else event.target.blur();
});

for (const button of document.querySelectorAll("[data-copy]")) {
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = "Copied";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
  });
}
