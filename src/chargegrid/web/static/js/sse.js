// Server-sent events over fetch. EventSource cannot send an Authorization header, and a
// token in the query string would end up in access logs, so the stream is read by hand.
import { API, authHeaders } from "./api.js";

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 15000;

/**
 * Follows `path` (under /api/v1) and calls onMessage(event, data) for each message, with
 * data parsed as JSON. onStatus gets "connecting" | "live" | "retrying" | "unavailable"
 * (the server has no such stream: 404/405/501) | "forbidden". Reconnects with backoff.
 * Returns {close()}.
 */
export function followStream(path, { onMessage, onStatus = () => {} }) {
  const controller = new AbortController();
  let retryMs = RETRY_MIN_MS;
  let stopped = false;

  async function run() {
    while (!stopped) {
      onStatus("connecting");
      try {
        const response = await fetch(API + path, {
          headers: { Accept: "text/event-stream", ...authHeaders() },
          signal: controller.signal,
          cache: "no-store",
        });
        if ([404, 405, 501].includes(response.status)) return onStatus("unavailable");
        if (response.status === 401 || response.status === 403) return onStatus("forbidden");
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        onStatus("live");
        retryMs = RETRY_MIN_MS;
        await readEvents(response.body, (event, data) => {
          let parsed;
          try {
            parsed = JSON.parse(data);
          } catch {
            return; // A comment or keep-alive that is not JSON carries nothing for us.
          }
          onMessage(event, parsed);
        });
      } catch (err) {
        if (stopped || err.name === "AbortError") return;
      }
      if (stopped) return;
      onStatus("retrying");
      await new Promise((resolve) => setTimeout(resolve, retryMs));
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    }
  }

  run();
  return {
    close() {
      stopped = true;
      controller.abort();
    },
  };
}

/** Parses the text/event-stream format (WHATWG HTML §9.2) from a byte stream. */
async function readEvents(body, dispatch) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop(); // The last piece may be an unfinished line.
    for (const line of lines) {
      if (line === "") {
        if (data.length) dispatch(event || "message", data.join("\n"));
        event = "";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
  }
}
