// The dashboard's script, served as /dashboard.js so that the page's
// Content-Security-Policy can forbid inline script (docs/http.md).
"use strict";
const FRAME_EVERY_MS = 250;  // each tile asks for its next frame this long after the last one arrived
const STATS_EVERY_MS = 1000;
const CHART_SAMPLES = 180;   // three minutes of one-second samples per tile
const tiles = new Map();     // camera name -> its elements

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function hue(classId) { return (classId * 137) % 360; }  // the same colours the server draws

function addTile(name) {
  const fig = el("figure", "tile");
  fig.dataset.camera = name;
  fig.dataset.detections = "0";
  fig.dataset.frames = "0";
  const img = el("img");
  img.alt = name;
  const cap = el("figcaption");
  const chart = el("canvas", "chart");
  chart.width = 320;
  chart.height = 40;
  chart.title = "fps (green) and p50 latency (orange) over the last minutes";
  const parts = { name: el("div", "name", name), stats: el("div", "stats", "waiting for frames"),
                  classes: el("div", "classes"), chart, error: el("div", "error") };
  Object.values(parts).forEach(p => cap.appendChild(p));
  fig.append(img, cap);
  document.getElementById("tiles").appendChild(fig);
  const tile = { fig, img, ...parts, samples: [] };
  tiles.set(name, tile);
  refreshFrame(name, tile);
}

async function refreshFrame(name, tile) {
  try {
    const res = await fetch(`/v1/cameras/${encodeURIComponent(name)}/latest.jpg`, { cache: "no-store" });
    if (!res.ok) throw new Error((await res.json()).error);
    const blob = await res.blob();
    const old = tile.img.src;
    tile.img.src = URL.createObjectURL(blob);
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    tile.fig.dataset.detections = res.headers.get("X-Shmyolo-Detections") || "0";
    tile.fig.dataset.frames = String(Number(tile.fig.dataset.frames) + 1);
    tile.error.textContent = "";
  } catch (e) {
    tile.error.textContent = e.message;
  }
  setTimeout(() => refreshFrame(name, tile), FRAME_EVERY_MS);
}

// With http.auth tokens the data routes answer 401 until the browser holds
// the token cookie (HttpOnly: this script never sees it after sign-in).
function askForToken() {
  document.getElementById("login").hidden = false;
  document.getElementById("health").textContent = "sign in with a token (shmyolo token new)";
}

document.getElementById("login").addEventListener("submit", async ev => {
  ev.preventDefault();
  const res = await fetch("/v1/login", { method: "POST", body: document.getElementById("token").value });
  if (res.ok) {
    location.reload();
    return;
  }
  document.getElementById("login-error").textContent = (await res.json()).error;
});

async function refreshStats() {
  try {
    const res = await fetch("/v1/cameras", { cache: "no-store" });
    if (res.status === 401) return askForToken();
    const body = await res.json();
    document.getElementById("pipeline").textContent = `pipeline ${body.pipeline}`;
    let fps = 0;
    for (const c of body.cameras) {
      if (!tiles.has(c.camera)) addTile(c.camera);
      const t = tiles.get(c.camera);
      const e2e = c.latency_ms.end_to_end;
      fps += c.fps_out;
      t.stats.textContent = `${c.fps_out.toFixed(1)} fps · p50 ${e2e.p50} ms · p99 ${e2e.p99} ms · ` +
        `${c.dropped} dropped · queue ${c.queue_depth} · ingest cpu ${c.cpu_percent.toFixed(0)}%` +
        (c.decoding === "keyframes" ? " · key frames only" : "");
      const classes = Object.entries(c.classes || {}).map(([k, v]) => `${v} ${k}`).join(", ");
      t.classes.textContent = (classes || "no objects") +
        (c.precision !== undefined ? ` · precision ${c.precision} recall ${c.recall}` : "") +
        (c.mota !== undefined ? ` · MOTA ${c.mota} IDF1 ${c.idf1}` : "");
      t.samples.push({ fps: c.fps_out, p50: e2e.p50 || 0 });
      if (t.samples.length > CHART_SAMPLES) t.samples.shift();
      drawChart(t.chart, t.samples);
    }
    document.getElementById("rate").textContent = `${fps.toFixed(1)} fps in all`;
  } catch (e) {
    document.getElementById("rate").textContent = `statistics unavailable: ${e.message}`;
  }
  try {
    const h = await (await fetch("/healthz", { cache: "no-store" })).json();
    const health = document.getElementById("health");
    health.textContent = `${h.status}: ${h.workers_ready}/${h.workers} workers ready`;
    health.className = h.status === "ok" ? "ok" : "bad";
  } catch (e) {
    document.getElementById("health").textContent = "service unreachable";
    document.getElementById("health").className = "bad";
  }
  setTimeout(refreshStats, STATS_EVERY_MS);
}

// fps (green) and p50 end-to-end latency (orange), each scaled to its own peak.
function drawChart(canvas, samples) {
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  const plot = (key, colour) => {
    const peak = Math.max(1e-9, ...samples.map(s => s[key]));
    g.strokeStyle = colour;
    g.beginPath();
    samples.forEach((s, i) => {
      const x = (i / (CHART_SAMPLES - 1)) * canvas.width;
      const y = canvas.height - 2 - (s[key] / peak) * (canvas.height - 4);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  };
  plot("fps", "#3ccf6e");
  plot("p50", "#ffa040");
  canvas.dataset.samples = String(samples.length);
}

// Active tracks and line counts per camera, from /v1/tracks.
async function refreshTracks() {
  try {
    const res = await fetch("/v1/tracks", { cache: "no-store" });
    if (res.ok) {
      const body = await res.json();
      const box = document.getElementById("tracks");
      box.replaceChildren();
      for (const c of body.cameras) {
        if (!c.tracking) continue;
        const row = el("div");
        row.appendChild(el("span", "camera", `${c.camera}: `));
        const ids = c.tracks.map(t => `#${t.track_id} ${t.class}` + (t.zones.length ? ` (${t.zones.join(", ")})` : ""));
        row.appendChild(el("span", "ids", ids.join(" · ") || "none"));
        for (const [topic, v] of Object.entries(c.counts)) {
          if (!topic.endsWith("/crossings")) continue;
          const line = el("div", "line", `line ${topic.split("/")[0]}: ${v.forward} forward, ${v.backward} backward`);
          line.dataset.line = topic.split("/")[0];
          row.appendChild(line);
        }
        box.appendChild(row);
      }
      box.dataset.tracks = String(body.cameras.reduce((n, c) => n + c.tracks.length, 0));
    }
  } catch (e) {
    document.getElementById("tracks").textContent = `tracks unavailable: ${e.message}`;
  }
  setTimeout(refreshTracks, STATS_EVERY_MS);
}

// Tracks' events, newest first, each with its track's snapshot when there is one.
function showTrackEvent(e) {
  const list = document.getElementById("track-events");
  const item = el("li");
  item.dataset.type = e.type;
  if (e.snapshot) {
    const thumb = el("img");
    thumb.src = e.snapshot;
    thumb.alt = `${e.class} #${e.track_id}`;
    item.appendChild(thumb);
  }
  const where = e.zone ? ` ${e.zone}` : e.line ? ` ${e.line} ${e.direction}` : e.reason ? ` (${e.reason})` : "";
  item.appendChild(el("span", "", `${e.camera} ${e.type}${where}: ${e.class} #${e.track_id}`));
  list.prepend(item);
  while (list.children.length > 12) list.lastChild.remove();
}

function watchEvents() {
  const log = document.getElementById("events");
  const lines = [];
  let count = 0;
  const source = new EventSource("/v1/events");
  source.addEventListener("detections", ev => {
    const d = JSON.parse(ev.data);
    count += 1;
    log.dataset.count = String(count);
    const what = d.detections.map(x => x.class).join(" ") || "-";
    lines.unshift(`${d.camera} #${d.frame} ${d.latency_ms.end_to_end} ms ${what}`);
    lines.length = Math.min(lines.length, 14);
    log.textContent = lines.join("\n");
  });
  source.addEventListener("dropped", ev => lines.unshift(`(${JSON.parse(ev.data).dropped} events dropped)`));
  for (const type of ["new", "end", "enter", "leave", "cross"])
    source.addEventListener(type, ev => showTrackEvent(JSON.parse(ev.data)));
}

function showResult(image, body) {
  const result = document.getElementById("result");
  result.replaceChildren();
  const canvas = el("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const g = canvas.getContext("2d");
  g.drawImage(image, 0, 0);
  g.lineWidth = Math.max(2, image.naturalWidth / 300);
  g.font = `${Math.max(12, image.naturalWidth / 45)}px sans-serif`;
  const table = el("table");
  table.id = "detections";
  const head = el("tr");
  ["class", "score", "box"].forEach(h => head.appendChild(el("th", "", h)));
  table.appendChild(head);
  for (const d of body.detections) {
    const [x1, y1, x2, y2] = d.box;
    g.strokeStyle = g.fillStyle = `hsl(${hue(d.class_id)} 100% 60%)`;
    g.strokeRect(x1, y1, x2 - x1, y2 - y1);
    g.fillText(`${d.class} ${d.score.toFixed(2)}`, x1 + 3, Math.max(y1 - 4, 14));
    const row = el("tr", "detection");
    row.dataset.class = d.class;
    [d.class, d.score.toFixed(3), d.box.map(v => Math.round(v)).join(", ")].forEach(v => row.appendChild(el("td", "", v)));
    table.appendChild(row);
  }
  const t = body.timings_ms;
  result.append(el("div", "", `${body.detections.length} objects · ${t.total} ms (decode ${t.decode}, queue ` +
                              `${t.queue_wait}, inference ${t.inference}) · worker ${body.worker}`), canvas, table);
  result.dataset.done = "1";
}

document.getElementById("upload").addEventListener("submit", async ev => {
  ev.preventDefault();
  const file = document.getElementById("file").files[0];
  const result = document.getElementById("result");
  result.dataset.done = "";
  result.textContent = "detecting…";
  const form = new FormData();
  form.append("image", file);
  const conf = document.getElementById("conf").value;
  try {
    const res = await fetch(`/v1/detect?conf=${encodeURIComponent(conf)}`, { method: "POST", body: form });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error);
    const image = new Image();
    image.onload = () => showResult(image, body);
    image.src = URL.createObjectURL(file);
  } catch (e) {
    result.replaceChildren(el("div", "error-text", e.message));
    result.dataset.done = "error";
  }
});

async function start() {
  const res = await fetch("/v1/cameras", { cache: "no-store" });
  if (res.status === 401) return askForToken();
  refreshStats();
  refreshTracks();
  watchEvents();
}

start();
