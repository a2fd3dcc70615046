// Times as the city reads them (its own zone, from /city), with UTC beside them.

export const HOUR = 3600 * 1000;

/** "YYYY-MM-DD HH:MM" of `date` on the clocks of `zone` (an IANA name). */
export function localTime(date, zone) {
  const format = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  const parts = Object.fromEntries(format.formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

/** "YYYY-MM-DD HH:MM UTC" of `date`. */
export const utcTime = (date) => date.toISOString().slice(0, 16).replace("T", " ") + " UTC";
