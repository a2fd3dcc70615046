"""OGC API documents as HTML pages for people (`f=html`), as pygeoapi and tipg offer: the
title, description and links of a document, its collections, and its features as a table."""

from html import escape

from fastapi import Response

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}"
)


def _list(heading: str, entries: list[str]) -> str:
    return f"<h2>{heading}</h2><ul>{''.join(entries)}</ul>" if entries else ""


def _links(links: list[dict]) -> str:
    return _list(
        "Links",
        [
            f'<li><a href="{escape(link["href"])}">{escape(link.get("title") or link["href"])}'
            f"</a> <small>({escape(link['rel'])}, {escape(link.get('type', ''))})</small></li>"
            for link in links
        ],
    )


def _collections(collections: list[dict]) -> str:
    return _list(
        "Collections",
        [
            f'<li><a href="{escape(_self(item))}?f=html">{escape(item["id"])}</a>: '
            f"{escape(item.get('title', ''))}</li>"
            for item in collections
        ],
    )


def _features(features: list[dict]) -> str:
    if not features:
        return ""
    keys = (key for item in features for key in item["properties"] if key != "id")
    names = list(dict.fromkeys(keys))
    head = "".join(f"<th>{escape(name)}</th>" for name in ["id", *names])
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(str(value))}</td>"
            for value in [item.get("id"), *(item["properties"].get(name) for name in names)]
        )
        + "</tr>"
        for item in features
    )
    return f"<h2>Features</h2><table><tr>{head}</tr>{body}</table>"


def _self(document: dict) -> str:
    return next((link["href"] for link in document["links"] if link["rel"] == "self"), "")


def html_page(document: dict, fallback_title: str) -> Response:
    """`document` (a landing page, collection(s) or feature collection) as an HTML page."""
    title = document.get("title") or document.get("id") or fallback_title
    parts = [
        f"<h1>{escape(str(title))}</h1>",
        f"<p>{escape(document.get('description', ''))}</p>",
    ]
    if "numberMatched" in document:
        parts.append(f"<p>{document['numberReturned']} of {document['numberMatched']} features</p>")
    parts += [
        _features(document.get("features", [])),
        _collections(document.get("collections", [])),
        _links(document.get("links", [])),
    ]
    text = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(str(title))}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )
    return Response(text, media_type="text/html")
