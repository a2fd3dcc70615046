// The cell panel's chart: a variable's hourly means, the selected hour marked with its value.

import { localTime } from "./clock.js";
import { escapeHTML } from "./http.js";
import { formatNumber } from "./legend.js";

const [W, H, LEFT, BOTTOM] = [320, 160, 40, 22];

/** Draw `series` ([{bucket_start, mean}]) into `svg`, marking `selected` (a Date). */
export function drawChart(svg, series, { selected, unit: rawUnit, zone }) {
  const unit = escapeHTML(rawUnit || "");
  const points = series.filter((s) => s.mean !== null);
  if (!points.length) {
    svg.innerHTML = '<text x="10" y="20">no readings</text>';
    return;
  }
  const times = points.map((s) => new Date(s.bucket_start).getTime());
  const values = points.map((s) => s.mean);
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  const [v0, v1] = [Math.min(...values), Math.max(...values)];
  const x = (t) => LEFT + ((t - t0) / Math.max(t1 - t0, 1)) * (W - LEFT - 6);
  const y = (v) => H - BOTTOM - ((v - v0) / Math.max(v1 - v0, 1e-9)) * (H - BOTTOM - 16);
  const line = points.map((s, i) => `${x(times[i]).toFixed(1)},${y(values[i]).toFixed(1)}`).join(" ");
  const text = (tx, ty, content, cls = "") => `<text x="${tx}" y="${ty}" class="${cls}">${content}</text>`;
  let marker = "";
  const at = selected.getTime();
  const index = times.indexOf(at);
  if (at >= t0 && at <= t1) {
    const value = index >= 0 ? `${formatNumber(values[index])} ${unit}` : "no reading";
    marker =
      `<line class="now" data-time="${selected.toISOString()}" x1="${x(at).toFixed(1)}" y1="14" x2="${x(at).toFixed(1)}" y2="${H - BOTTOM}"/>` +
      text(Math.min(x(at) + 3, W - 80), 11, value, "now-value");
  }
  svg.innerHTML =
    `<line class="axis" x1="${LEFT}" y1="${H - BOTTOM}" x2="${W - 4}" y2="${H - BOTTOM}"/>` +
    `<line class="axis" x1="${LEFT}" y1="14" x2="${LEFT}" y2="${H - BOTTOM}"/>` +
    text(2, 11, unit, "unit") +
    text(2, y(v1) + 4, formatNumber(v1)) +
    text(2, y(v0), formatNumber(v0)) +
    text(LEFT, H - 6, localTime(new Date(t0), zone).slice(5)) +
    text(W - 70, H - 6, localTime(new Date(t1), zone).slice(5)) +
    `<polyline class="line" points="${line}"/>` +
    marker;
}
