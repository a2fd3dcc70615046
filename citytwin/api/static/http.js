// The same-origin API as the map reads it.

export const $ = (id) => document.getElementById(id);
// Text from the data (sensor and scenario names) put into HTML.
export const escapeHTML = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// Not `new URL`: it would escape the braces of tile URL templates.
export const api = (path) => window.location.origin + path;

export async function getJSON(path, options) {
  const answer = await fetch(api(path), options);
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.parameter ? `${body.parameter}: ${body.detail}` : body.detail);
  return body;
}
