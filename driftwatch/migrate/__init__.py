"""Blue/green migrations of a collection to another embedder (DESIGN.md "Migration").

    plan      what it will cost: records, tokens, money, time, storage   (read only)
    evaluate  the candidate on a sample, in memory: canary recall, bridge  (read only)
    run       re-embed blue into green; resumable, catches up              (writes green)
    status    total / done / missing / stale / complete                    (read only)
    cutover   the gate; when it passes, monitoring moves to green          (state DB)
    rollback  monitoring back to blue and the old embedder                 (state DB)

Blue is never written. The green collection itself is the record of finished
work: every run diffs blue against green by text hash (``iter_text_hashes``),
so a run killed at any moment resumes with what is missing, and the
application dual-writing into green leaves nothing to redo.
"""
