// The same-origin API as the map reads it.

export const $ = (id) => document.getElementById(id);
// Not `new URL`: it would escape the braces of tile URL templates.
export const api = (path) => window.location.origin + path;

export async function getJSON(path, options) {
  const answer = await fetch(api(path), options);
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.parameter ? `${body.parameter}: ${body.detail}` : body.detail);
  return body;
}
