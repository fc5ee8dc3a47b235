// scanpulse live progress: the scan page and the dashboard, kept current over one
// EventSource each. Streams resume from the last applied event after any disconnect, every
// event is applied exactly once and in order (a gap is filled from the event log first), and
// polling takes over while streaming is refused. See docs/web.md.
//
// Text from the server (log lines, messages, names) is only ever set with textContent.

// The scan statuses as the server defines them (scanpulse.scans.models), written into every
// page by base.html: their labels, and the step a finished scan shows for each terminal one
// (never the step it was in when it ended: scanpulse.web.presenters.scan_step).
const STATUSES = JSON.parse(document.body.dataset.scanStatuses ?? "null") ?? {
  labels: {}, terminal_steps: {},
};
const STATUS_LABELS = STATUSES.labels;
const TERMINAL_STEPS = STATUSES.terminal_steps;
const TERMINAL = new Set(Object.keys(TERMINAL_STEPS)); // a terminal status is its event's kind
const KINDS = [
  "status", "step", "progress", "log", "findings", "attempt", ...TERMINAL,
  "reset", "snapshot", "deleted",
  // An advisory update matched a finished scan's inventory (after its terminal event).
  "advisory",
];
const MODE_TEXT = {
  static: "",
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  polling: "Live stream unavailable — checking for updates every few seconds",
  paused: "Paused while this tab is hidden",
  done: "",
  "signed-out": "Your session has ended. Log in again to see updates.",
  deleted: "This scan was deleted.",
};
const FAILURES_BEFORE_POLLING = 3; // consecutive stream errors with no successful open between
const RECONNECT_BASE_MS = 500;
const POLL_INTERVAL_MS = 2000;
const STREAM_RETRY_MS = [30000, 60000]; // while polling, try streaming again after this long
const EVENTS_PAGE = 500;
const LOG_LINES_KEPT = 2000;
const PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000";

class HttpError extends Error {
  constructor(status) {
    super(`HTTP ${status}`);
    this.status = status;
  }
}

class GapError extends Error {}

async function getJSON(url) {
  const response = await fetch(url, {
    headers: { Accept: "application/json" },
    credentials: "same-origin",
    cache: "no-store",
  });
  if (!response.ok) throw new HttpError(response.status);
  return response.json();
}

function signedOut(error) {
  return error instanceof HttpError && (error.status === 401 || error.status === 403);
}

function clock(isoTime) {
  return typeof isoTime === "string" && isoTime.length >= 19 ? isoTime.slice(11, 19) : "";
}

function scanApi(scanId, path = "") {
  return `/api/scans/${encodeURIComponent(scanId)}/${path}`;
}

function showMode(root, mode) {
  for (const element of root.querySelectorAll('[data-role="connection"]')) {
    element.dataset.mode = mode;
    element.textContent = MODE_TEXT[mode] ?? "";
  }
}

// --- the connection ---------------------------------------------------------------------

// One EventSource with resume, fallback to polling and a hidden-tab pause. What the events
// mean is the owner's business: it gets them through `deliver` and polls through `poll`.
class Feed {
  constructor({ url, deliver, poll, onMode }) {
    this.url = url; // a fresh connection's URL, carrying the owner's cursor
    this.deliver = deliver;
    this.poll = poll; // one polling round; resolves to true when more is waiting
    this.onMode = onMode;
    this.source = null;
    this.failures = 0;
    this.openedSinceError = false;
    this.polling = false;
    this.stopped = false;
    this.timers = { reconnect: 0, poll: 0, retry: 0 };
    this.onVisibility = () => this.visibilityChanged();
    document.addEventListener("visibilitychange", this.onVisibility);
  }

  start() {
    if (document.hidden) this.onMode("paused");
    else this.connect();
  }

  stop(mode = "done") {
    this.stopped = true;
    this.polling = false;
    this.closeSource();
    this.clearTimers();
    document.removeEventListener("visibilitychange", this.onVisibility);
    this.onMode(mode);
  }

  connect() {
    this.closeSource();
    clearTimeout(this.timers.reconnect);
    // A new EventSource sends no Last-Event-ID: the cursor travels in the URL. Reconnects the
    // browser makes by itself repeat this URL and add the header, which the server prefers.
    const source = new EventSource(this.url());
    this.source = source;
    this.openedSinceError = false;
    if (!this.polling) this.onMode(this.failures ? "reconnecting" : "connecting");
    source.addEventListener("open", () => {
      if (source !== this.source) return;
      this.failures = 0;
      this.openedSinceError = true;
      this.stopPolling();
      this.onMode("live");
    });
    source.addEventListener("error", () => {
      if (source === this.source) this.streamFailed(source);
    });
    for (const kind of KINDS) {
      source.addEventListener(kind, (message) => {
        if (source !== this.source || this.stopped) return;
        let data;
        try {
          data = JSON.parse(message.data);
        } catch {
          return;
        }
        this.deliver(kind, data, message.lastEventId);
      });
    }
  }

  closeSource() {
    if (this.source) this.source.close();
    this.source = null;
  }

  // `error` also fires when a healthy stream ends (the server closes streams after a while)
  // and the browser reconnects: only errors with no successful open in between count.
  streamFailed(source) {
    if (this.stopped) return;
    if (!this.openedSinceError) this.failures += 1;
    this.openedSinceError = false;
    if (source.readyState === EventSource.CLOSED) {
      // The response was not a stream (an HTTP error status, or 204): the browser gave up.
      this.source = null;
      this.diagnose();
    } else if (this.failures >= FAILURES_BEFORE_POLLING) {
      this.startPolling();
    } else if (!this.polling && this.failures > 0) {
      this.onMode("reconnecting"); // a routine reconnect stays "Live"
    }
  }

  // EventSource cannot see status codes; ask once with fetch what the refusal was.
  async diagnose() {
    const status = await this.probe();
    if (this.stopped || this.source || document.hidden) return;
    if (status === 429 || status === 204 || this.failures >= FAILURES_BEFORE_POLLING) {
      // Too many streams (poll now, stream later), nothing left to stream (one poll catches
      // up), or streaming keeps failing.
      this.startPolling();
      return;
    }
    if (!this.polling) this.onMode("reconnecting");
    const delay = status === 200 ? 0 : RECONNECT_BASE_MS * 2 ** (this.failures - 1);
    this.timers.reconnect = setTimeout(() => this.connect(), delay);
  }

  async probe() {
    const controller = new AbortController();
    try {
      const response = await fetch(this.url(), {
        headers: { Accept: "text/event-stream" },
        credentials: "same-origin",
        cache: "no-store",
        signal: controller.signal,
      });
      return response.status;
    } catch {
      return 0;
    } finally {
      controller.abort(); // only the status was wanted, never the events
    }
  }

  startPolling() {
    this.closeSource();
    clearTimeout(this.timers.reconnect);
    if (!this.polling) {
      this.polling = true;
      this.onMode("polling");
      this.schedulePoll(0);
    }
    this.scheduleStreamRetry();
  }

  stopPolling() {
    if (!this.polling) return;
    this.polling = false;
    clearTimeout(this.timers.poll);
    clearTimeout(this.timers.retry);
  }

  schedulePoll(delay) {
    clearTimeout(this.timers.poll);
    this.timers.poll = setTimeout(() => this.pollOnce(), delay);
  }

  async pollOnce() {
    if (!this.polling || this.stopped || document.hidden) return;
    let more = false;
    try {
      more = await this.poll();
    } catch (error) {
      if (signedOut(error)) {
        this.stop("signed-out");
        return;
      }
    }
    if (this.polling && !this.stopped) this.schedulePoll(more ? 0 : POLL_INTERVAL_MS);
  }

  scheduleStreamRetry() {
    clearTimeout(this.timers.retry);
    const [low, high] = STREAM_RETRY_MS;
    this.timers.retry = setTimeout(() => {
      if (!this.polling || this.stopped || document.hidden) return;
      // Polling goes on until the stream opens; one more failure sends it straight back.
      this.failures = FAILURES_BEFORE_POLLING - 1;
      this.connect();
    }, low + Math.random() * (high - low));
  }

  clearTimers() {
    for (const timer of Object.values(this.timers)) clearTimeout(timer);
  }

  visibilityChanged() {
    if (this.stopped) return;
    if (document.hidden) {
      this.closeSource();
      this.clearTimers();
      this.onMode("paused");
    } else if (this.polling) {
      this.onMode("polling");
      this.schedulePoll(0);
      this.scheduleStreamRetry();
    } else {
      this.failures = 0;
      this.connect(); // resumes from the cursor: whatever happened meanwhile is replayed
    }
  }
}

// --- one scan's state ---------------------------------------------------------------------

// Applies a scan's events exactly once, in order. `last` is the number of the last event
// applied; the page rendered the state of exactly that event.
class ScanTracker {
  constructor(scanId, last, view) {
    this.scanId = scanId;
    this.last = last;
    this.view = view;
    this.finished = false;
  }

  eventsUrl() {
    return `${scanApi(this.scanId, "events")}?after=${this.last}&limit=${EVENTS_PAGE}`;
  }

  async receive(event) {
    const seq = event?.seq;
    if (this.finished || !Number.isSafeInteger(seq) || seq <= this.last) return; // seen
    if (seq > this.last + 1) await this.fill(seq - 1);
    if (this.finished || seq <= this.last) return;
    if (seq !== this.last + 1) throw new GapError(`events ${this.last + 1}–${seq - 1} missing`);
    this.apply(event);
  }

  // Fetch the events between `last` and `upTo` from the log (the polling endpoint numbers them
  // exactly like the stream).
  async fill(upTo) {
    while (this.last < upTo && !this.finished) {
      const before = this.last;
      this.applyPage(await getJSON(this.eventsUrl()));
      if (this.last === before) return;
    }
  }

  // One page of `/events?after=last`; true when more events are waiting.
  applyPage(page) {
    if (page.reset) {
      if (page.snapshot) this.applySnapshot(page.snapshot, true);
      return false;
    }
    for (const event of page.events ?? []) {
      if (this.finished) break;
      if (event.seq === this.last + 1) this.apply(event);
    }
    return !this.finished && (page.events?.length ?? 0) >= EVENTS_PAGE;
  }

  apply(event) {
    this.last = event.seq;
    const data = event.data ?? {};
    const view = this.view;
    switch (event.kind) {
      case "status":
        view.setStatus(data.status);
        if (data.status === "running") {
          // A new attempt starts from nothing, as the scan's snapshot does.
          view.started(event.time);
          view.setProgress(0);
          view.setStep("");
          view.setFindings(0);
        }
        break;
      case "step":
        view.setStep(data.step);
        if (data.progress !== undefined) view.setProgress(data.progress);
        break;
      case "progress":
        view.setProgress(data.progress);
        break;
      case "log":
        view.log(data.level ?? "info", data.message ?? "", event.time);
        if (data.commit_sha) view.setCommit(data.commit_sha);
        break;
      case "attempt":
        view.log("warning", data.message ?? `Attempt ${data.attempt}`, event.time);
        break;
      case "findings":
        view.setFindings(data.findings_count);
        break;
      default:
        if (TERMINAL.has(event.kind)) {
          this.finished = true;
          view.finish(event.kind, data.message ?? "", data.findings_count);
        }
        // otherwise a kind this page does not know: numbered, so counted, but nothing to show
        break;
    }
  }

  // The scan's state as a whole, authoritative: after a reset, or when events were lost.
  applySnapshot(snapshot, eventsLost) {
    if (!Number.isSafeInteger(snapshot?.last_event_id)) return;
    this.last = snapshot.last_event_id;
    if (eventsLost) {
      this.view.notice("Earlier events are no longer available; showing the scan’s current state.");
    }
    this.view.setStatus(snapshot.status);
    this.view.setProgress(snapshot.progress);
    this.view.setStep(snapshot.step);
    this.view.setFindings(snapshot.findings_count);
    if (TERMINAL.has(snapshot.status)) {
      this.finished = true;
      this.view.finish(snapshot.status, snapshot.error_message ?? "", snapshot.findings_count);
    }
  }

  // A state read from the API (scan JSON or snapshot), taken only when newer than what we have.
  applyState(state) {
    if (Number.isSafeInteger(state?.last_event_id) && state.last_event_id > this.last) {
      this.applySnapshot(state, false);
    }
  }
}

// --- what a scan looks like ---------------------------------------------------------------

class ScanView {
  constructor(root) {
    this.root = root;
    this.status = root.dataset.status ?? "pending";
  }

  part(role) {
    return this.root.querySelector(`[data-role="${role}"]`);
  }

  setCommit(sha) {
    const cell = this.part("commit");
    if (!cell) return;
    const code = document.createElement("code");
    code.textContent = sha.slice(0, 12);
    cell.replaceChildren(code);
  }

  setStatus(status) {
    if (!status) return;
    this.status = status;
    this.root.dataset.status = status;
    const badge = this.part("status");
    if (badge) {
      badge.dataset.status = status;
      badge.textContent = STATUS_LABELS[status] ?? status;
    }
  }

  setStep(step) {
    const element = this.part("step");
    if (!element) return;
    if (TERMINAL.has(this.status)) element.textContent = TERMINAL_STEPS[this.status];
    else if (step) element.textContent = step;
    else if (this.status === "pending") element.textContent = "Waiting for a worker";
    else if (this.status === "running") element.textContent = "Starting";
  }

  setProgress(value) {
    const percent = Math.max(0, Math.min(100, Math.round(Number(value) || 0)));
    const bar = this.part("progressbar");
    if (bar) {
      bar.setAttribute("aria-valuenow", String(percent));
      const progress = bar.querySelector("progress");
      if (progress) progress.value = percent;
    }
    const label = this.part("progress-label");
    if (label) label.textContent = `${percent}%`;
  }

  setFindings(count) {
    const element = this.part("findings");
    if (element && Number.isSafeInteger(count)) element.textContent = String(count);
  }

  started() {}

  log() {}

  notice() {}

  finish(status, message, findingsCount) {
    this.setStatus(status);
    this.setStep("");
    if (status === "completed") this.setProgress(100);
    if (Number.isSafeInteger(findingsCount)) this.setFindings(findingsCount);
  }
}

// --- the scan page --------------------------------------------------------------------------

class ScanPage extends ScanView {
  constructor(root) {
    super(root);
    this.queue = Promise.resolve();
    this.tracker = new ScanTracker(root.dataset.scanId, Number(root.dataset.lastEventId) || 0, this);
    this.feed = null;
    askBeforeCancelling(root);
    if (TERMINAL.has(this.status)) return; // a finished scan never changes
    this.feed = new Feed({
      url: () => `${scanApi(this.tracker.scanId, "progress")}?last_event_id=${this.tracker.last}`,
      deliver: (kind, data) => {
        this.enqueue(() => this.receive(kind, data)).catch((error) => this.recover(error));
      },
      poll: () => this.enqueue(async () => {
        if (this.tracker.finished) return false;
        return this.tracker.applyPage(await getJSON(this.tracker.eventsUrl()));
      }),
      onMode: (mode) => showMode(root, mode),
    });
    this.feed.start();
  }

  // Events are handled one after the other, even when one waits for a gap to be filled.
  enqueue(task) {
    const run = this.queue.then(task);
    this.queue = run.catch(() => {});
    return run;
  }

  async receive(kind, data) {
    if (kind === "reset") return; // the snapshot that follows carries the state
    if (kind === "snapshot") {
      this.tracker.applySnapshot(data, true);
      return;
    }
    if (kind === "deleted") {
      // Nothing is left to follow: reconnecting would only be answered 404.
      this.tracker.finished = true;
      this.part("cancel")?.remove();
      const announcer = this.part("announcer");
      if (announcer) announcer.textContent = MODE_TEXT.deleted;
      this.feed?.stop("deleted");
      return;
    }
    await this.tracker.receive(data);
  }

  // Applying a streamed event failed (its gap could not be fetched): the stream has moved past
  // it, so continue from our own cursor by polling, which returns to streaming later.
  recover(error) {
    if (!this.feed || this.tracker.finished) return;
    if (signedOut(error)) this.feed.stop("signed-out");
    else this.feed.startPolling();
  }

  log(level, message, time) {
    const list = this.part("log");
    const template = this.part("log-line-template");
    if (!list || !template) return;
    const line = template.content.firstElementChild.cloneNode(true);
    line.dataset.level = level;
    const stamp = line.querySelector("time");
    stamp.dateTime = time ?? "";
    stamp.textContent = clock(time);
    line.querySelector(".log-message").textContent = message;
    const following = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    list.append(line);
    while (list.childElementCount > LOG_LINES_KEPT) list.firstElementChild.remove();
    if (following) list.scrollTop = list.scrollHeight;
    const empty = this.part("log-empty");
    if (empty) empty.hidden = true;
  }

  notice(message) {
    this.log("notice", message, new Date().toISOString());
  }

  started(time) {
    const element = this.part("started");
    if (!element || element.querySelector("time") || typeof time !== "string") return;
    const stamp = document.createElement("time");
    stamp.dateTime = time;
    stamp.textContent = `${time.slice(0, 10)} ${clock(time)}`;
    element.replaceChildren(stamp);
  }

  finish(status, message, findingsCount) {
    super.finish(status, message, findingsCount);
    const callout = this.part("message");
    if (callout && message) {
      const tone = { completed: "success", failed: "error", cancelled: "warning" }[status];
      callout.className = `callout callout-${tone ?? "info"}`;
      callout.textContent = message;
      callout.hidden = false;
    }
    this.part("cancel")?.remove();
    const announcer = this.part("announcer");
    if (announcer) announcer.textContent = `Scan ${STATUS_LABELS[status] ?? status}. ${message}`;
    this.feed?.stop();
    this.refreshRegions();
  }

  // Findings, summary and commit exist once the scan has ended: fetch this page again and
  // swap in its regions marked data-refresh (our own escaped markup, parsed inertly), keeping
  // the filters of the address bar.
  async refreshRegions() {
    const regions = [...document.querySelectorAll("[data-refresh][id]")];
    try {
      const response = await fetch(window.location.href, {
        headers: { Accept: "text/html" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (!response.ok) throw new HttpError(response.status);
      const parsed = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const region of regions) {
        const fresh = parsed.getElementById(region.id);
        if (fresh) region.replaceWith(document.importNode(fresh, true));
      }
    } catch {
      const hint = document.createElement("p");
      hint.className = "callout callout-warning";
      hint.textContent = "The findings could not be loaded. Reload the page to see them.";
      regions.at(-1)?.append(hint);
    }
  }
}

// Cancel scan asks first. Without this module its link opens a confirmation page; with it,
// the page's own modal dialog (Escape or "Keep scanning" closes it, focus returns to the
// link). Delegated, so that it survives the regions being refreshed.
function askBeforeCancelling(root) {
  root.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const opener = target?.closest('[data-role="cancel-open"]');
    if (opener) {
      const dialog = root.querySelector('[data-role="cancel-dialog"]');
      if (dialog instanceof HTMLDialogElement && !dialog.open) {
        event.preventDefault();
        dialog.showModal();
      }
      return;
    }
    target?.closest('[data-role="cancel-close"]')?.closest("dialog")?.close();
  });
}

// --- the dashboard --------------------------------------------------------------------------

class ScanCard extends ScanView {
  constructor(element, last) {
    super(element);
    this.scanId = element.dataset.scanId;
    this.tracker = new ScanTracker(this.scanId, last, this);
    this.tracker.finished = TERMINAL.has(this.status);
  }

  finish(status, message, findingsCount) {
    super.finish(status, message, findingsCount);
    if (status !== "completed" && message) this.part("step").textContent = message;
  }

  describe(scan, projectName) {
    if (scan?.ref) this.part("ref").textContent = scan.ref;
    if (projectName) {
      this.part("project").textContent = projectName;
      this.part("progressbar").setAttribute("aria-label", `Progress of ${projectName}`);
    }
  }
}

// Every active scan of the organization over one connection to the organization's stream,
// whose cursor counts all its events. Scans that start later appear from their first event.
class Dashboard {
  constructor(root) {
    this.root = root;
    this.organizationId = root.dataset.organizationId;
    this.last = Number(root.dataset.lastEventId) || 0;
    this.scanUrl = root.dataset.scanUrl ?? "";
    this.list = root.querySelector('[data-role="scan-list"]');
    this.template = root.querySelector('[data-role="scan-card-template"]');
    this.empty = root.querySelector('[data-role="empty"]');
    this.cards = new Map();
    this.projects = new Map();
    this.queue = Promise.resolve();
    for (const element of this.list.querySelectorAll('[data-role="scan-card"]')) {
      const card = new ScanCard(element, Number(element.dataset.lastEventId) || 0);
      this.cards.set(card.scanId, card);
    }
    const organization = encodeURIComponent(this.organizationId);
    this.feed = new Feed({
      url: () => `/api/stream?organization=${organization}&last_event_id=${this.last}`,
      deliver: (kind, data, id) => {
        this.enqueue(() => this.receive(kind, data, id)).catch((error) => this.recover(error));
      },
      poll: () => this.enqueue(() => this.pollOnce()),
      onMode: (mode) => showMode(root, mode),
    });
    this.feed.start();
  }

  enqueue(task) {
    const run = this.queue.then(task);
    this.queue = run.catch(() => {});
    return run;
  }

  recover(error) {
    if (signedOut(error)) this.feed.stop("signed-out");
    else this.feed.startPolling();
  }

  async receive(kind, data, id) {
    if (kind === "reset") return;
    if (kind === "snapshot") {
      await this.applySnapshot(data, Number(id));
      return;
    }
    if (kind === "deleted") {
      this.removeCard(data?.scan);
      return;
    }
    const number = data?.org_seq;
    if (!Number.isSafeInteger(number) || number <= this.last || typeof data.scan !== "string") {
      return;
    }
    const gap = number > this.last + 1;
    this.last = number;
    // Not a scan's progress: its alerts changed (the project's alert list shows them).
    if (kind === "advisory") {
      if (gap) await this.pollOnce();
      return;
    }
    const card = this.cards.get(data.scan) ?? this.addCard(data.scan);
    await card.tracker.receive(data);
    // The organization's numbers have no holes; should one appear, re-read every scan.
    if (gap) await this.pollOnce();
  }

  async applySnapshot(snapshot, number) {
    if (Number.isSafeInteger(number)) this.last = number;
    const listed = new Set();
    for (const state of snapshot?.scans ?? []) {
      listed.add(state.scan);
      (this.cards.get(state.scan) ?? this.addCard(state.scan)).tracker.applyState(state);
    }
    await this.refreshUnlisted(listed);
  }

  // The fallback: the active scans from the API, then the final state of those that ended.
  async pollOnce() {
    const pages = await Promise.all(
      ["running", "pending"].map((status) => getJSON(`/api/scans/?status=${status}&page_size=500`)),
    );
    const listed = new Set();
    for (const page of pages) {
      for (const scan of page.results ?? []) {
        if (scan.organization !== this.organizationId) continue;
        listed.add(scan.id);
        (this.cards.get(scan.id) ?? this.addCard(scan.id, scan)).tracker.applyState(scan);
      }
    }
    await this.refreshUnlisted(listed);
    return false;
  }

  async refreshUnlisted(listed) {
    for (const card of this.cards.values()) {
      if (!listed.has(card.scanId) && !card.tracker.finished) {
        card.tracker.applyState(await getJSON(scanApi(card.scanId)));
      }
    }
  }

  removeCard(scanId) {
    const card = this.cards.get(scanId);
    if (!card) return;
    card.root.remove();
    this.cards.delete(scanId);
    this.empty.hidden = this.cards.size > 0;
  }

  addCard(scanId, scan = null) {
    const element = this.template.content.firstElementChild.cloneNode(true);
    element.dataset.scanId = scanId;
    element.dataset.status = "pending";
    element.querySelector('[data-role="link"]').href = this.scanUrl.replace(PLACEHOLDER_ID, scanId);
    this.list.append(element);
    this.empty.hidden = true;
    const card = new ScanCard(element, 0);
    this.cards.set(scanId, card);
    this.describe(card, scan);
    return card;
  }

  // Project name and ref of a scan that started after the page was rendered.
  async describe(card, known) {
    try {
      const scan = known ?? (await getJSON(scanApi(card.scanId)));
      card.describe(scan, null);
      if (!known) this.enqueue(() => card.tracker.applyState(scan));
      let project = this.projects.get(scan.project);
      if (!project) {
        project = getJSON(`/api/projects/${encodeURIComponent(scan.project)}/`);
        this.projects.set(scan.project, project);
        project.catch(() => this.projects.delete(scan.project));
      }
      card.describe(scan, (await project).name);
    } catch {
      // The card still shows live progress; only its labels are missing.
    }
  }
}

for (const root of document.querySelectorAll('[data-live="scan"]')) new ScanPage(root);
for (const root of document.querySelectorAll('[data-live="organization"]')) new Dashboard(root);
