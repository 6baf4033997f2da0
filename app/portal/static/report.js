// The reporting page: pick images, hash them here, send only the hashes, then show the
// case number and PIN (in the page only: nothing is stored in the browser).

import { config, errorText, show, t } from "./common.js";
import { Picker, chooseHashes } from "./picker.js";
import { createCase } from "./send.js";

const button = document.getElementById("report-button");
const form = document.getElementById("report-form");
const result = document.getElementById("result");
let sending = false;

const picker = new Picker(document.getElementById("report-picker"), update);

function update() {
  const count = picker.ready().length + picker.serverChosen().length;
  button.disabled = sending || picker.busy() || count === 0;
  if (!sending) show("report-error", "");
}

async function report() {
  const ready = picker.ready().map((item) => item.result);
  const heic = picker.serverChosen();
  // Room for what the server hashes from each HEIC image (its PDQ variants and 3 more).
  const reserve = Math.min(config.limits.maxHashes, heic.length * 20);
  const hashes = chooseHashes(ready, config.limits.maxHashes - reserve);
  if (hashes === null) {
    show("report-error", t("report.too_many", { max: Math.floor(config.limits.maxHashes / 3) }));
    return;
  }
  sending = true;
  update();
  show("report-progress", t("report.sending"));
  const outcome = await createCase(hashes, heic);
  sending = false;
  show("report-progress", "");
  if (!outcome.ok) {
    update();
    show("report-error", errorText(outcome.error));
    return;
  }
  picker.clear(); // the previews and fingerprints are not needed any more
  document.getElementById("case-id").textContent = outcome.caseId;
  document.getElementById("case-pin").textContent = outcome.pin;
  show("result-partial", outcome.failed ? `${t("result.partial")} ${errorText(outcome.error)}` : "");
  form.hidden = true;
  result.hidden = false;
  result.focus();
}

async function copy(id) {
  const text = document.getElementById(id).textContent;
  try {
    await navigator.clipboard.writeText(text);
    show("copy-status", id === "case-pin" ? t("result.copied_pin") : t("result.copied_case"));
  } catch {
    // no clipboard access: select the text so that the person can copy it themselves
    const range = document.createRange();
    range.selectNodeContents(document.getElementById(id));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    show("copy-status", t("result.copy_failed"));
  }
}

function download() {
  const caseId = document.getElementById("case-id").textContent;
  const pin = document.getElementById("case-pin").textContent;
  const followUrl = new URL(`/follow?lang=${config.lang}`, window.location.href).href;
  const text = t("result.file_text", { case: caseId, pin, url: followUrl });
  const url = URL.createObjectURL(new Blob([text + "\n"], { type: "text/plain;charset=utf-8" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = t("result.file_name");
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

button.addEventListener("click", report);
for (const node of document.querySelectorAll("[data-copy]")) {
  node.addEventListener("click", () => copy(node.dataset.copy));
}
document.getElementById("download").addEventListener("click", download);
document.getElementById("report-again").addEventListener("click", () => window.location.replace(window.location.href));
update();
