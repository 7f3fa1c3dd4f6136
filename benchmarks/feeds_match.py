"""How fast a big feed is parsed and matched, and what reading roles costs on top.

Builds one RSS 2.0 document of ``--entries`` items (real notice wording from
tests/feeds/samples.py: retirements naming a replacement, Azure-style tables,
launch posts that retire nothing), parses it with ``parse_feed``, then matches
every entry against ``--models`` models in use (each with a family alias), in
the same run and alternating:

- ids: ``match_models`` on each entry's text (token matching, no roles) — the
  baseline, what matching cost before roles;
- roles: ``entry_matches`` (token matching, roles, and the dates of each
  retiring model), what the feed watcher runs per entry.

Reported: parse seconds and peak RSS growth, the best time of each matcher,
entries/s, and the ratio roles / ids.

    python -m benchmarks.feeds_match [--entries 12000] [--models 51] [--repeats 3]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from benchmarks.common import best, current_rss_mb, peak_rss_mb, time_call, write_results
from driftwatch.feeds.extract import entry_matches
from driftwatch.feeds.match import ModelInUse, match_models
from driftwatch.feeds.parse import parse_feed
from tests.feeds import samples

NOW = datetime(2026, 1, 1, tzinfo=UTC)
NOTICES = [
    samples.OPENAI_NOTICE,
    samples.COHERE_NOTICE + " Migrate to embed-english-v3.0.",
    samples.GOOGLE_NOTICE + " The recommended replacement is gemini-embedding-001.",
    samples.AZURE_TABLE_HTML,
    "text-embedding-3-small is now 20% cheaper for every customer.",
]


def _feed(entries: int) -> bytes:
    items = [
        {"id": f"n-{i}", "title": f"Update {i}", "description": NOTICES[i % len(NOTICES)]}
        for i in range(entries)
    ]
    return samples.rss2(items)


def _models(count: int) -> list[ModelInUse]:
    named = [
        ModelInUse("text-embedding-ada-002", "openai", ("ada-002", "first-generation models")),
        ModelInUse("embed-english-v2.0", "cohere", ("Embed English v2 models",)),
        ModelInUse("textembedding-gecko@001", "google", ("gecko models",)),
        ModelInUse("text-embedding-3-small", "openai", ("small embedding models",)),
    ]
    filler = [
        ModelInUse(f"vendor-embed-{i}-v{i % 5}", "unknown", (f"vendor family {i} models",))
        for i in range(max(0, count - len(named)))
    ]
    return named + filler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=12000)
    parser.add_argument("--models", type=int, default=51)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    body = _feed(args.entries)
    rss_before = current_rss_mb()
    parse_time, parsed = time_call(lambda: parse_feed(body, "bench"))
    rss_growth = peak_rss_mb() - rss_before
    models = _models(args.models)

    def ids() -> int:
        return sum(len(match_models(e.text, models)) for e in parsed.entries)

    def roles() -> int:
        return sum(len(entry_matches(e, models, None, NOW)[0]) for e in parsed.entries)

    id_times, role_times = [], []
    for _ in range(args.repeats):
        timing, named = time_call(ids)
        id_times.append(timing)
        timing, retiring = time_call(roles)
        role_times.append(timing)
    id_best, role_best = best(id_times), best(role_times)
    write_results(
        "feeds_match",
        {
            "entries": len(parsed.entries),
            "models": len(models),
            "body_mb": round(len(body) / 1e6, 2),
            "parse": parse_time.as_dict(),
            "parse_peak_rss_growth_mb": round(rss_growth, 1),
            "ids": id_best.as_dict(),
            "roles": role_best.as_dict(),
            "matches_named": named,
            "matches_retiring": retiring,
            "roles_entries_per_s": round(len(parsed.entries) / role_best.wall_s),
            "ratio_roles_to_ids": round(role_best.wall_s / id_best.wall_s, 2),
        },
    )


if __name__ == "__main__":
    main()
