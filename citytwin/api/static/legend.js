// Colour scales and their legends: the numbers at each colour, the unit, and what each side of a
// diverging scale means.

export const RAMP = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
// Where the ramp's colours sit among the values drawn: robust ends (2nd and 98th percentile)
// and the quartiles, so one hot spot does not wash every other hexagon into one colour.
const QUANTILES = [0.02, 0.25, 0.5, 0.75, 0.98];

/** Three significant digits, without exponent or trailing zeros. */
export const formatNumber = (value) => String(Number(Number(value).toPrecision(3)));

function quantile(sorted, q) {
  const at = (sorted.length - 1) * q;
  const [low, high] = [Math.floor(at), Math.ceil(at)];
  return sorted[low] + (sorted[high] - sorted[low]) * (at - low);
}

/** [value, colour] stops at the quantiles of `values`, strictly rising (as MapLibre needs). */
export function quantileStops(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const stops = [];
  if (!sorted.length) return stops;
  QUANTILES.forEach((q, i) => {
    const value = quantile(sorted, q);
    if (!stops.length || value > stops[stops.length - 1][0]) stops.push([value, RAMP[i]]);
  });
  return stops;
}

/** A MapLibre colour of `mean` through the stops (one colour when all values are equal). */
export function fillColour(stops) {
  if (stops.length < 2) return stops.length ? stops[0][1] : "#cccccc";
  return ["interpolate", ["linear"], ["get", "mean"], ...stops.flat()];
}

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

/**
 * A colour bar with the value of each shown stop under it, the unit, and a caption.
 * `stops`: [value, colour] (placed evenly along the bar); `ticks`: which stops are numbered;
 * `sides`: [left, right] meanings of a diverging scale.
 */
export function drawLegend(target, { stops, unit, caption, ticks, sides }) {
  target.replaceChildren();
  if (!stops.length) {
    target.append(element("div", "caption", caption));
    return;
  }
  const place = (i) => (stops.length > 1 ? (100 * i) / (stops.length - 1) : 0);
  const bar = element("div", "bar");
  bar.style.background = `linear-gradient(to right, ${stops.map(([, c], i) => `${c} ${place(i)}%`).join(", ")})`;
  const numbers = element("div", "ticks");
  for (const i of ticks || stops.map((_, index) => index)) {
    const tick = element("span", "tick", formatNumber(stops[i][0]));
    tick.style.left = `${place(i)}%`;
    tick.dataset.value = String(stops[i][0]);
    numbers.append(tick);
  }
  target.append(bar, numbers);
  if (sides) {
    const meaning = element("div", "sides");
    meaning.append(element("span", "low", sides[0]), element("span", "high", sides[1]));
    target.append(meaning);
  }
  const line = element("div", "caption");
  line.append(element("span", "unit", unit || "no unit"), ` · ${caption}`);
  target.append(line);
}
