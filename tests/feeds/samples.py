"""Feed documents in every supported format, with real notice wording (DESIGN.md)."""

from __future__ import annotations

import json
from typing import Any

OPENAI_NOTICE = (
    "On July 6, 2023, we announced the deprecation of the first-generation text embedding "
    "models text-search-ada-doc-001 and text-similarity-ada-001. They will be shut down on "
    "January 04, 2024."
)
AZURE_TABLE_HTML = (
    "<p>Retirement dates for embedding models:</p><table>"
    "<tr><th>Model</th><th>Version</th><th>Lifecycle Status</th><th>Deprecation Date</th>"
    "<th>Retirement Date</th><th>Replacement</th></tr>"
    "<tr><td><code>text-embedding-ada-002</code></td><td>2</td><td>Generally Available</td>"
    "<td>n/a</td><td>No earlier than 2026-10-30</td><td>n/a</td></tr>"
    "<tr><td><code>text-embedding-3-small</code></td><td>1</td><td>Generally Available</td>"
    "<td>n/a</td><td>No earlier than 2027-02-01</td><td>n/a</td></tr></table>"
)
COHERE_NOTICE = (
    "Effective April 4, 2026, the following models are no longer available. Requests using "
    "these model IDs will fail: embed-english-v2.0, embed-multilingual-v2.0."
)
GOOGLE_NOTICE = (
    "On October 30, 2025, the following embedding models will be discontinued and will start "
    "returning errors: textembedding-gecko@001, textembedding-gecko-multilingual@001."
)


def rss2(items: list[dict[str, str]]) -> bytes:
    """An RSS 2.0 document; each item has id, title, description, date (RFC 822)."""
    body = "".join(
        f"<item><guid>{i['id']}</guid><title>{i['title']}</title>"
        f"<link>https://example.org/{i['id']}</link>"
        f"<description><![CDATA[{i['description']}]]></description>"
        f"<pubDate>{i.get('date', 'Thu, 06 Jul 2023 12:00:00 GMT')}</pubDate></item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Provider updates</title><link>https://example.org/</link>{body}"
        "</channel></rss>"
    ).encode()


RSS_091 = b"""<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old</title><link>https://example.org/</link>
<description>d</description><language>en</language>
<item><title>embed-english-v2.0 retirement</title><link>https://example.org/cohere</link>
<description>Effective April 4, 2026, the following models are no longer available:
embed-english-v2.0.</description></item>
</channel></rss>"""

RSS_10 = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://example.org/"><title>RDF</title><link>https://example.org/</link>
<description>d</description><items><rdf:Seq><rdf:li resource="https://example.org/g"/></rdf:Seq>
</items></channel>
<item rdf:about="https://example.org/g"><title>Gecko models discontinued</title>
<link>https://example.org/g</link><dc:date>2025-04-01T00:00:00Z</dc:date>
<description>On October 30, 2025, the following embedding models will be discontinued and will
start returning errors: textembedding-gecko@001.</description></item>
</rdf:RDF>"""

ATOM = (
    """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Azure OpenAI model retirements</title>
<id>urn:feed</id><updated>2025-11-01T00:00:00Z</updated>
<entry><id>urn:azure:embeddings</id><title>Embedding model retirement dates</title>
<updated>2025-11-01T00:00:00Z</updated><published>2025-10-15T00:00:00Z</published>
<link href="https://example.org/azure"/>
<content type="html"><![CDATA["""
    + AZURE_TABLE_HTML
    + """]]></content></entry></feed>"""
).encode()


def json_feed(items: list[Any]) -> bytes:
    return json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "Deprecations", "items": items}
    ).encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><description>deprecated</description></item></channel></rss>"""

MALFORMED = b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>x</item></rss>'
HTML_PAGE = b"<!DOCTYPE html><html><head><title>Status</title></head><body>Hi</body></html>"
XHTML_PAGE = b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>'
# Latin-1 bytes in a document that (by default) claims UTF-8.
NOT_UTF8 = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Caf\xe9</title>'
    b"<item><title>d\xe9pr\xe9ci\xe9</title></item></channel></rss>"
)
LATIN1_DECLARED = (
    b'<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>Caf\xe9'
    b"</title><item><guid>l1</guid><title>Mod\xe8le text-embedding-004 deprecated</title>"
    b"<description>retired on 2026-01-14</description></item></channel></rss>"
)


def _catalog_model(**fields: Any) -> dict[str, Any]:
    """One entry shaped as modeldeprecations.dev's /api/v1/models.json lists them."""
    entry: dict[str, Any] = {
        "aliases": [],
        "description": "An embedding model; see the provider's deprecation page for details.",
        "replacements": [],
        "sources": [],
        "last_verified": "2026-07-30",
        **fields,
    }
    entry.setdefault("computed_status", entry["status"])
    return entry


# The catalog format of modeldeprecations.dev (its src/schema/model.ts and
# src/data/catalog.ts): {$schema, generatedAt, asOf, count, models: [...]}, each model
# with provider, model, name, aliases, dates, status, replacements, sources and the
# build-time computed_status. The dates are the ones the DESIGN.md notices announce.
MODELDEPRECATIONS_CATALOG = json.dumps(
    {
        "$schema": "https://modeldeprecations.dev/api/v1/schema.json",
        "generatedAt": "2026-07-30T08:00:00.000Z",
        "asOf": "2026-07-30",
        "count": 4,
        "models": [
            _catalog_model(
                provider="openai",
                model="text-embedding-ada-002",
                name="text-embedding-ada-002",
                aliases=["ada-002-2022-12"],
                earliest_shutdown_on="2026-10-30",
                status="active",
                replacements=[
                    {"provider": "openai", "model": "text-embedding-3-large", "recommended": False},
                    {"provider": "openai", "model": "text-embedding-3-small", "recommended": True},
                ],
                sources=[
                    {
                        "url": "https://example.org/azure/model-retirements",
                        "title": "Azure OpenAI model retirements",
                        "accessed": "2026-07-30",
                    }
                ],
            ),
            _catalog_model(
                provider="cohere",
                model="embed-english-v2.0",
                name="Embed English v2.0",
                deprecated_on="2026-01-15",
                shutdown_on="2026-04-04",
                status="retired",
                replacements=[
                    {"provider": "cohere", "model": "embed-english-v3.0", "recommended": True}
                ],
                sources=[
                    {"url": "https://example.org/cohere/deprecations", "accessed": "2026-07-30"}
                ],
            ),
            _catalog_model(
                provider="google",
                model="textembedding-gecko",
                name="Text Embedding Gecko",
                aliases=["textembedding-gecko@001", "textembedding-gecko@003"],
                shutdown_on="2025-10-30",
                status="retired",
                sources=[
                    {"url": "https://example.org/vertex/deprecations", "accessed": "2026-07-30"}
                ],
            ),
            _catalog_model(
                provider="openai",
                model="text-embedding-3-small",
                name="text-embedding-3-small",
                status="active",
            ),
        ],
    }
).encode()
