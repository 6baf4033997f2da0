// The follow page: case number + PIN -> the case's status and re-upload counts; add
// images to it; withdraw it after a confirmation. The PIN is kept in this page's memory
// only while the case is shown.

import { call, config, errorText, formatDate, show, t } from "./common.js";
import { Picker, chooseHashes } from "./picker.js";
import { addToCase } from "./send.js";

const form = document.getElementById("follow-form");
const caseInput = document.getElementById("follow-case");
const pinInput = document.getElementById("follow-pin");
const section = document.getElementById("case");
const dialog = document.getElementById("withdraw-dialog");
const addButton = document.getElementById("add-button");
let current = null; // { caseId, pin, view } while a case is shown
let busy = false;

const picker = new Picker(document.getElementById("add-picker"), updateAdd);

function updateAdd() {
  const count = picker.ready().length + picker.heicChosen().length;
  addButton.disabled = busy || picker.busy() || count === 0;
}

function normalizeCase(text) {
  return text.trim().toUpperCase().replace(/\s+/g, "");
}

function render(view) {
  current.view = view;
  document.getElementById("case-title").textContent = t("case.title", { case: view.case_id });
  const badge = document.getElementById("case-status");
  badge.textContent = t(`status.${view.status}`);
  badge.dataset.status = view.status;
  document.getElementById("case-status-text").textContent = t(`status.${view.status}_text`);
  document.getElementById("case-created").textContent = formatDate(view.created_at);
  document.getElementById("case-hashes").textContent = String(view.hashes);
  document.getElementById("case-attempts").textContent = String(view.reupload_attempts);
  document.getElementById("case-blocked").textContent = String(view.confirmed_blocked);
  document.getElementById("case-last").textContent = formatDate(view.last_detected);
  // per platform by name, only where the deployment allows it (null otherwise)
  const platforms = view.platforms || [];
  const list = document.getElementById("case-platforms");
  list.replaceChildren(
    ...platforms.map((p) => {
      const item = document.createElement("li");
      item.textContent = t("case.platform", {
        name: p.name,
        attempts: p.reupload_attempts,
        blocked: p.confirmed_blocked,
      });
      return item;
    }),
  );
  document.getElementById("case-platforms-section").hidden = platforms.length === 0;
  const open = view.status === "pending" || view.status === "active";
  document.getElementById("add-section").hidden = !open;
  document.getElementById("withdraw-section").hidden = view.status === "withdrawn";
}

async function lookUp(event) {
  event.preventDefault();
  show("follow-error", "");
  const caseId = normalizeCase(caseInput.value);
  const pin = pinInput.value.trim();
  if (!caseId || !pin) {
    show("follow-error", t("follow.missing"));
    (caseId ? pinInput : caseInput).focus();
    return;
  }
  const result = await call("GET", `/v1/cases/${encodeURIComponent(caseId)}`, { pin });
  if (!result.ok) {
    section.hidden = true;
    current = null;
    show("follow-error", errorText(result));
    return;
  }
  current = { caseId, pin, view: null };
  render(result.data);
  show("case-message", "");
  section.hidden = false;
  section.focus();
}

async function withdraw() {
  dialog.close();
  const result = await call("DELETE", `/v1/cases/${encodeURIComponent(current.caseId)}`, { pin: current.pin });
  if (!result.ok) {
    show("case-message", errorText(result));
    return;
  }
  render(result.data);
  show("case-message", t("withdraw.done"));
  document.getElementById("case-title").focus();
}

async function addImages() {
  const ready = picker.ready().map((item) => item.result);
  const heic = picker.heicChosen();
  const room = config.limits.maxHashes - current.view.hashes;
  const reserve = Math.min(room, heic.length * 20);
  const hashes = chooseHashes(ready, room - reserve);
  if (hashes === null || room <= 0) {
    show("add-error", t("error.case_full"));
    return;
  }
  busy = true;
  updateAdd();
  show("add-error", "");
  show("add-status", t("report.sending"));
  const outcome = await addToCase(current.caseId, current.pin, hashes, heic);
  busy = false;
  if (outcome.view) render(outcome.view);
  if (outcome.ok) {
    picker.clear();
    show("add-status", t("add.done"));
  } else {
    show("add-status", "");
    show("add-error", errorText(outcome.error));
  }
  updateAdd();
}

function close() {
  current = null;
  picker.clear();
  section.hidden = true;
  form.reset();
  caseInput.focus();
}

form.addEventListener("submit", lookUp);
addButton.addEventListener("click", addImages);
document.getElementById("withdraw-button").addEventListener("click", () => dialog.showModal());
document.getElementById("withdraw-confirm").addEventListener("click", withdraw);
document.getElementById("withdraw-cancel").addEventListener("click", () => dialog.close());
document.getElementById("close-button").addEventListener("click", close);
updateAdd();
