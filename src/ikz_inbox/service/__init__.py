"""Service functions shared by the CLI, the worker and the ingest flow: one function per
user-facing job, in three modules:

- ``grouping``: group new questions incrementally, regroup everything, rank (rerank);
- ``briefing``: the briefing and the export;
- ``staff``: what staff read and change (questions, clusters, suggestions, audit, erasure).

They take an open Session (the caller owns the transaction boundaries), the loaded
resources and the current time, and call the stages and the store. The names below are
the public interface; callers write ``service.regroup(...)``.
"""

from ikz_inbox.service.briefing import (
    ALL_EVENTS,
    EXPORT_SCHEMA,
    briefing_event,
    build_briefing,
    build_export,
    export_data,
    next_event,
    question_json,
    question_key,
)
from ikz_inbox.service.grouping import (
    GroupingCache,
    group_new_questions,
    reclassify_and_regroup,
    regroup,
    rerank,
)
from ikz_inbox.service.staff import (
    AuditCheck,
    ClusterDetails,
    ClusterListing,
    audit_entries,
    cluster_details,
    decide_suggestion,
    erase_sender,
    flag_cluster,
    grouping_suggestions,
    list_clusters_ranked,
    list_questions,
    merge_clusters,
    question_details,
    reclassify_question,
    review_queue,
    split_cluster,
    staff_corrections,
    verify_audit,
)

__all__ = [
    "ALL_EVENTS",
    "EXPORT_SCHEMA",
    "AuditCheck",
    "ClusterDetails",
    "ClusterListing",
    "GroupingCache",
    "audit_entries",
    "briefing_event",
    "build_briefing",
    "build_export",
    "cluster_details",
    "decide_suggestion",
    "erase_sender",
    "export_data",
    "flag_cluster",
    "group_new_questions",
    "grouping_suggestions",
    "list_clusters_ranked",
    "list_questions",
    "merge_clusters",
    "next_event",
    "question_details",
    "question_json",
    "question_key",
    "reclassify_and_regroup",
    "reclassify_question",
    "regroup",
    "rerank",
    "review_queue",
    "split_cluster",
    "staff_corrections",
    "verify_audit",
]
