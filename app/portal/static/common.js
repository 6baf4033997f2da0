// What both pages share: their configuration and texts, the quick exit, links that
// leave no history entry, and calls to hashbank's /v1/cases API.

const element = document.getElementById("portal-config");
/** { lang, exitUrl, limits: { maxBytes, maxPixels, maxHashes, pinAttempts }, texts } */
export const config = JSON.parse(element.textContent);

/** The text `key` in the page's language, with {name} placeholders filled. */
export function t(key, values = {}) {
  const text = config.texts[key];
  if (text === undefined) throw new Error(`missing text ${key}`);
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

/** Leave for a neutral site at once; the page is blanked first and left out of history. */
export function quickExit(event) {
  if (event) event.preventDefault();
  document.title = "";
  document.body.replaceChildren();
  window.location.replace(config.exitUrl);
}

function setUpQuickExit() {
  document.getElementById("quick-exit").addEventListener("click", quickExit);
  document.addEventListener("keydown", (event) => {
    // In an open dialog, Escape closes the dialog first, as everywhere else.
    if (event.key === "Escape" && !document.querySelector("dialog[open]")) quickExit(event);
  });
}

// Moving between the portal's own pages replaces the history entry, so that the tab's
// history holds one entry for the portal however many pages were seen.
function setUpReplaceLinks() {
  for (const link of document.querySelectorAll("a[data-replace]")) {
    link.addEventListener("click", (event) => {
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      window.location.replace(link.href);
    });
  }
}

/**
 * Call the API. `json` is sent as JSON, `form` as multipart; `pin` goes in X-Case-Pin.
 * Returns { ok, status, data, retryAfter } (status 0 when the network failed).
 */
export async function call(method, path, { json, form, pin } = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  if (pin) headers["X-Case-Pin"] = pin;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body,
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch {
    return { ok: false, status: 0, data: null, retryAfter: null };
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  const retry = Number(response.headers.get("Retry-After"));
  return { ok: response.ok, status: response.status, data, retryAfter: retry > 0 ? retry : null };
}

function minutes(seconds) {
  return Math.max(1, Math.ceil((seconds || 60) / 60));
}

/** The message to show for a failed call. */
export function errorText(result) {
  const detail = (result.data && result.data.detail) || "";
  switch (result.status) {
    case 0:
      return t("error.network");
    case 401:
      return t("error.wrong_pin", { n: config.limits.pinAttempts });
    case 409:
      return t("error.closed");
    case 413:
      return t("error.too_large_server");
    case 422:
      return /at most \d+ hashes/.test(detail) ? t("error.case_full") : t("error.invalid");
    case 423:
      return t("error.locked", { minutes: minutes(result.retryAfter) });
    case 429: // too many reports, or (the detail says so) too many wrong PINs
      return /PIN/.test(detail)
        ? t("error.pin_rate_limited", { minutes: minutes(result.retryAfter) })
        : t("error.rate_limited", { minutes: minutes(result.retryAfter) });
    default:
      return t("error.server");
  }
}

/** A date and time from the API, in the page's language. */
export function formatDate(iso) {
  if (!iso) return t("case.never");
  return new Intl.DateTimeFormat(config.lang, { dateStyle: "long", timeStyle: "short" }).format(new Date(iso));
}

/** Show `text` in the element with id `id` (hidden when empty). */
export function show(id, text) {
  const node = document.getElementById(id);
  node.textContent = text || "";
  node.hidden = !text;
}

setUpQuickExit();
setUpReplaceLinks();
