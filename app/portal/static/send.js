// Sending a report: hashes as JSON in requests of at most 100 hashes and 15 KB, and the
// HEIC images and videos this browser cannot open (only those the person opted in for)
// one per multipart request, to be hashed in the server's memory. Nothing else ever
// leaves the page.

import { call } from "./common.js";
import { chunks } from "./picker.js";

function imageForm(item) {
  const form = new FormData();
  form.append(item.kind === "video" ? "video" : "image", item.file, item.name);
  return form;
}

/**
 * Add `hashes` and `heicItems` to an existing case. Returns { ok, failed, error, view }:
 * `failed` counts the requests that did not go through, `error` is the first failure,
 * `view` the case as the last successful request returned it.
 */
export async function addToCase(caseId, pin, hashes, heicItems) {
  const path = `/v1/cases/${encodeURIComponent(caseId)}/hashes`;
  let failed = 0;
  let error = null;
  let view = null;
  const requests = [
    ...chunks(hashes).map((part) => ({ json: { hashes: part } })),
    ...heicItems.map((item) => ({ form: imageForm(item) })),
  ];
  for (const request of requests) {
    const result = await call("POST", path, { ...request, pin });
    if (result.ok) {
      view = result.data;
    } else {
      failed++;
      error = error || result;
      if ([401, 409, 423].includes(result.status)) break; // the rest would fail alike
    }
  }
  return { ok: failed === 0, failed, error, view };
}

/**
 * Create a case from `hashes` and `heicItems`. Returns { ok, caseId, pin, failed, error }:
 * when the case was created but some later request failed, ok is true and `failed` > 0.
 */
export async function createCase(hashes, heicItems) {
  const parts = chunks(hashes);
  let first;
  let rest = heicItems;
  if (parts.length) {
    first = await call("POST", "/v1/cases", { json: { hashes: parts[0] } });
  } else {
    first = await call("POST", "/v1/cases", { form: imageForm(heicItems[0]) });
    rest = heicItems.slice(1);
  }
  if (!first.ok) return { ok: false, error: first };
  const { case_id: caseId, pin } = first.data;
  const more = await addToCase(caseId, pin, parts.slice(1).flat(), rest);
  return { ok: true, caseId, pin, failed: more.failed, error: more.error };
}
