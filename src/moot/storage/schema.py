"""The tables, as SQLAlchemy Core metadata.  Alembic migrations create them; a test checks that
the migrated schema and this file agree.  The map of what each table holds is in
docs/internals.md.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import TSVECTOR

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

mailing_lists = Table(
    "mailing_lists",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("address", String(320), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("posting_policy", String(20), nullable=False, default="members"),
    Column("archive_policy", String(20), nullable=False, default="public"),
    Column("created_at", DateTime, nullable=False),
    # The posting pipeline's settings (moot.core.mailinglist.SETTINGS says what each means).
    Column("subject_prefix", String(200), nullable=True),  # NULL: "[local-part] "
    Column("footer", Text, nullable=False, default=""),
    Column("reply_to", String(20), nullable=False, default="author"),
    Column("max_size", Integer, nullable=False, default=512_000),
    Column("content_types", Text, nullable=False, default=""),  # comma-separated
    Column("max_recipients", Integer, nullable=False, default=10),
    Column("suspicious_headers", Text, nullable=False, default=""),  # one per line
    Column("personalize", String(20), nullable=False, default="member"),
    Column("dmarc_mitigation", String(20), nullable=False, default="munge"),
    Column("bounce_threshold", Integer, nullable=False, default=5),
    Column("bounce_warnings", Integer, nullable=False, default=3),
    Column("digest_size", Integer, nullable=False, default=30),
    Column("digest_period", String(20), nullable=False, default="daily"),
    Column("digest_format", String(20), nullable=False, default="mime"),
    # Digests: the volume (a year) and issue numbers of the next digest, and when the last went.
    Column("digest_volume", Integer, nullable=False, default=1),
    Column("digest_issue", Integer, nullable=False, default=1),
    Column("digest_last_sent_at", DateTime, nullable=True),
    # Moderation and identity (moot.core.mailinglist.SETTINGS says what each means).
    Column("nonmember_action", String(20), nullable=False, default="hold"),
    Column("new_member_posts", Integer, nullable=False, default=0),
    Column("ban_action", String(20), nullable=False, default="refuse"),
    Column("held_expire_days", Integer, nullable=False, default=14),
    Column("identity_policy", String(20), nullable=False, default="accept"),
    Column("spam_action", String(20), nullable=False, default="hold"),
    Column("subscriptions", String(20), nullable=False, default="open"),
)

threads = Table(
    "threads",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("subject", Text, nullable=False, default=""),
    Column("subject_key", String(200), nullable=False, default=""),
    Column("root_message_id", String(1000), nullable=False, default=""),
    Column("started_at", DateTime, nullable=True),
    Column("last_at", DateTime, nullable=True),
    Column("message_count", Integer, nullable=False, default=0),
    Index(None, "list_id", "last_at"),
    Index(None, "list_id", "subject_key"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("sha256", LargeBinary(32), nullable=False),
    Column("message_id", String(1000), nullable=False),
    Column("message_id_generated", Boolean, nullable=False, default=False),
    Column("thread_id", Integer, ForeignKey("threads.id"), nullable=False),
    Column("from_name", String(300), nullable=False, default=""),
    Column("from_addr", String(320), nullable=False, default=""),
    Column("date_utc", DateTime, nullable=True),
    Column("date_raw", String(200), nullable=False, default=""),
    # The date the archive sorts by: Date when readable, else the mbox envelope's, else arrival.
    Column("sort_date", DateTime, nullable=False),
    Column("subject", Text, nullable=False, default=""),
    Column("in_reply_to", String(1000), nullable=True),
    Column("references", Text, nullable=False, default=""),
    Column("size", Integer, nullable=False),
    Column("body_text", Text, nullable=False, default=""),
    Column("has_html", Boolean, nullable=False, default=False),
    Column("attachment_count", Integer, nullable=False, default=0),
    # Whether the sender was who From says, as checked when the post came in (JSON:
    # {"verdict": "verified"|"unverified"|"failed", "how": TEXT}); NULL: not checked
    # (imported mail).
    Column("identity", Text, nullable=True),
    Column("problems", Text, nullable=False, default=""),
    Column("mbox_from", String(1000), nullable=True),
    Column("received_at", DateTime, nullable=False),
    # Taken down by the moderators: "deleted" (text, raw bytes and attachments gone) or
    # "redacted" (passages struck from the text; raw bytes gone).  The row stays, so the thread
    # keeps its shape and shows "removed by the moderators on DATE".
    Column("removed_kind", String(20), nullable=True),
    Column("removed_at", DateTime, nullable=True),
    Column("removed_by", String(320), nullable=True),
    # HyperKitty's name for the message in its URLs (moot.core.references.hyperkitty_id), so
    # that a ``/message/HASH/`` link to an archive imported from HyperKitty finds it.
    Column("hyperkitty_id", String(32), nullable=True),
    UniqueConstraint("list_id", "sha256"),
    Index(None, "list_id", "message_id"),
    Index(None, "list_id", "hyperkitty_id"),
    Index(None, "list_id", "sort_date"),
    Index(None, "thread_id", "sort_date"),
)

# The raw bytes, exactly as received, kept apart so that scans of ``messages`` stay small.
raw_messages = Table(
    "raw_messages",
    metadata,
    Column("message_pk", Integer, ForeignKey("messages.id", ondelete="CASCADE"),
           primary_key=True),
    Column("codec", String(10), nullable=False),
    Column("data", LargeBinary, nullable=False),
)

attachments = Table(
    "attachments",
    metadata,
    Column("message_pk", Integer, ForeignKey("messages.id", ondelete="CASCADE"),
           primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("filename", String(500), nullable=False, default=""),
    Column("content_type", String(200), nullable=False, default=""),
    Column("size", Integer, nullable=False),
)

# Every Message-ID a list has seen, as a message or only as a reference, and its thread.
# This is what lets a reply that arrives before its parent find the thread later.
thread_ids = Table(
    "thread_ids",
    metadata,
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"),
           primary_key=True),
    Column("message_id", String(1000), primary_key=True),
    Column("thread_id", Integer, ForeignKey("threads.id"), nullable=False),
    Index(None, "thread_id"),
    sqlite_with_rowid=False,  # the key is the row: one B-tree, not two
)

# Where each imported message stood in the files it was imported from: the file's name, the
# period it covers (``YYYY-MM`` for a pipermail month file, else NULL) and its 0-based position
# there, counting every piece of the file (repeated copies and rejects too).  Pipermail numbers
# its articles in that order, which is what lets a pipermail URL find its message
# (moot.pipermail).  A repeated copy has its own row, naming the message stored once.
import_positions = Table(
    "import_positions",
    metadata,
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"),
           primary_key=True),
    Column("source", String(500), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("period", String(7), nullable=True),
    Column("message_pk", Integer, ForeignKey("messages.id", ondelete="CASCADE"),
           nullable=False),
    Index(None, "list_id", "period", "position"),
    Index(None, "message_pk"),
)

# What could not be archived as a message at all (not mail), kept raw with the reason.
rejects = Table(
    "rejects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("sha256", LargeBinary(32), nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("reason", Text, nullable=False),
    Column("codec", String(10), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("received_at", DateTime, nullable=False),
    UniqueConstraint("list_id", "sha256"),
)

# -- The list server: members, confirmations, held posts, bans, the outbound queue ----------------

members = Table(
    "members",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(320), nullable=False),  # lower case
    Column("name", String(300), nullable=False, default=""),
    Column("role", String(20), nullable=False, default="member"),  # member|moderator|owner
    Column("delivery", String(20), nullable=False, default="regular"),  # regular|digest
    Column("nomail", Boolean, nullable=False, default=False),
    Column("receive_own", Boolean, nullable=False, default=True),
    Column("moderated", Boolean, nullable=False, default=False),
    Column("subscribed_at", DateTime, nullable=False),
    # Bounces: the score (days with a permanent failure, within a week of each other), the
    # last day that scored, and when delivery stopped because of them (NULL: it goes on).
    Column("bounce_score", Integer, nullable=False, default=0),
    Column("last_bounce_at", DateTime, nullable=True),
    Column("bounce_disabled_at", DateTime, nullable=True),
    Column("bounce_warnings_sent", Integer, nullable=False, default=0),
    Column("last_warning_at", DateTime, nullable=True),
    # Posts of theirs accepted so far (new members may be moderated for their first few).
    Column("accepted_posts", Integer, nullable=False, default=0),
    # Their posts that passed authentication (DKIM or SPF aligned with From), and the last
    # time: mail from them that suddenly fails is a possible impersonation.
    Column("auth_passes", Integer, nullable=False, default=0),
    Column("last_auth_pass_at", DateTime, nullable=True),
    UniqueConstraint("list_id", "email"),
    Index(None, "bounce_disabled_at"),
)

# What happened to each member's delivery because of bounces, for the owner: every parsed
# bounce, every probe, and each time delivery stopped or started again.
bounce_events = Table(
    "bounce_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("at", DateTime, nullable=False),
    # bounce|delayed|disabled|warning|probe|enabled|removed
    Column("kind", String(20), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("bounce_id", Integer, ForeignKey("bounces.id", ondelete="SET NULL"), nullable=True),
    Index(None, "list_id", "email"),
)

# Posts waiting for the next digest of their list.
digest_queue = Table(
    "digest_queue",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("codec", String(10), nullable=False),
    Column("data", LargeBinary, nullable=False),  # the post as members get it
    Column("size", Integer, nullable=False),
    Column("queued_at", DateTime, nullable=False),
    Index(None, "list_id"),
)

# Double opt-in: a request waits here until its token comes back (by mail or by the web page).
pending = Table(
    "pending",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("action", String(20), nullable=False),  # subscribe|unsubscribe
    Column("delivery", String(20), nullable=False, default="regular"),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Index(None, "list_id", "email"),
)

# Posts waiting for a moderator: the raw bytes as received and why they wait.
held = Table(
    "held",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", String(1000), nullable=False),
    Column("sender", String(320), nullable=False, default=""),
    Column("envelope_sender", String(320), nullable=False, default=""),
    Column("subject", Text, nullable=False, default=""),
    Column("reasons", Text, nullable=False, default=""),  # one per line
    Column("received_at", DateTime, nullable=False),
    Column("codec", String(10), nullable=False),
    Column("data", LargeBinary, nullable=False),
    # Set once a moderator has decided: approve|reject|discard, by whom, when, why.
    Column("decision", String(20), nullable=True),
    Column("decided_by", String(320), nullable=True),
    Column("decided_at", DateTime, nullable=True),
    Column("decision_reason", Text, nullable=True),
    Index(None, "list_id", "decision"),
)

bans = Table(
    "bans",
    metadata,
    Column("id", Integer, primary_key=True),
    # NULL: a site-wide ban, for every list.
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=True),
    Column("pattern", String(320), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("by", String(320), nullable=False, default=""),
    Column("at", DateTime, nullable=False),
    Column("expires", DateTime, nullable=True),
    Column("expulsion", Boolean, nullable=False, default=False),
    UniqueConstraint("list_id", "pattern"),
)

# Senders a list treats in a set way whatever else applies (a moderator's "always accept this
# sender"): pattern as for bans, action accept|hold|reject|discard.
sender_rules = Table(
    "sender_rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("pattern", String(320), nullable=False),
    Column("action", String(20), nullable=False),
    Column("by", String(320), nullable=False, default=""),
    Column("at", DateTime, nullable=False),
    UniqueConstraint("list_id", "pattern"),
)

# Every moderation decision, ban, expulsion, re-admission and setting change: who, when, what.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    # NULL: site-wide (a site ban).
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="SET NULL"), nullable=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(320), nullable=False),  # an address, "cli", "api", "system"
    Column("action", String(40), nullable=False),
    Column("target", String(1000), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Index(None, "list_id", "at"),
)

# Web accounts: a person with a password, the addresses they proved are theirs, and their
# sessions (a signed cookie names one; revoking it ends the session wherever it is).
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),  # lower case; log-in name
    Column("password_hash", String(200), nullable=False),  # argon2id
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("confirmed_at", DateTime, nullable=True),  # NULL: the address is not proved yet
    Column("disabled", Boolean, nullable=False, default=False),
)

user_addresses = Table(
    "user_addresses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(320), nullable=False, unique=True),
    Column("confirmed_at", DateTime, nullable=True),
    Index(None, "user_id"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 of the cookie's secret, hex
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("revoked_at", DateTime, nullable=True),
    Index(None, "user_id"),
)

# Tokens for scripts calling the REST API as a user (``Authorization: Bearer moot_...``); only
# their hash is kept.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False, default=""),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("last_used_at", DateTime, nullable=True),
    Column("revoked_at", DateTime, nullable=True),
    Index(None, "user_id"),
)

# A list's own wording of the mail it sends by itself (welcome, goodbye, ...); a template not
# here is the built-in one.
list_templates = Table(
    "list_templates",
    metadata,
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"),
           primary_key=True),
    Column("name", String(40), primary_key=True),
    Column("body", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("updated_by", String(320), nullable=False, default=""),
)

# What a message points at beyond its reply: a passage it quotes, a message its prose refers to,
# an earlier appearance of the same letter (kind quote|reference|republication).  status:
# found (target_pk), ambiguous (several fit: candidates, comma-separated message ids), none
# (nothing in the archive fits; the reader is told so).  detail: JSON for the page (the
# passage's lines, the words of the reference, the similarity).
links = Table(
    "links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("source_pk", Integer, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("target_pk", Integer, ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
    Column("status", String(20), nullable=False, default="found"),
    Column("candidates", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default="{}"),
    Index(None, "source_pk"),
    Index(None, "target_pk", "kind"),
)

# Sketches for finding republications (moot.republication): each message's MinHash signature
# of its own words, and its LSH band keys (two signature values hashed into one number per
# band) so that the messages sharing a band with a new one are found by one indexed look-up.
sketches = Table(
    "sketches",
    metadata,
    Column("message_pk", Integer, ForeignKey("messages.id", ondelete="CASCADE"),
           primary_key=True),
    Column("words", Integer, nullable=False),
    Column("signature", LargeBinary, nullable=False),
)

sketch_bands = Table(
    "sketch_bands",
    metadata,
    Column("key", BigInteger, nullable=False),
    Column("message_pk", Integer, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Index(None, "key"),
    Index(None, "message_pk"),
)

# Edited issues (moot.issues): an editor's selection of posts, with notes, that a list publishes
# as a periodical.  ``issues`` and ``issue_items`` are the working copy the editors change;
# each publication freezes it into ``issue_versions`` (what readers see), and
# ``issue_published`` says which posts the latest version carries ("Republished in").
issues = Table(
    "issues",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("title", String(200), nullable=False),
    Column("introduction", Text, nullable=False, default=""),
    Column("status", String(20), nullable=False, default="draft"),  # draft|published
    Column("created_by", String(320), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("published_at", DateTime, nullable=True),  # the first publication
    Column("version", Integer, nullable=False, default=0),  # 0 until published
    Column("published_title", String(200), nullable=False, default=""),  # the latest version's
    UniqueConstraint("list_id", "number"),
)

issue_items = Table(
    "issue_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("issue_id", Integer, ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("message_pk", Integer, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("editor_note", Text, nullable=False, default=""),
    Index(None, "issue_id", "position"),
)

issue_versions = Table(
    "issue_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("issue_id", Integer, ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("published_at", DateTime, nullable=False),
    Column("published_by", String(320), nullable=False),
    Column("snapshot", Text, nullable=False),  # JSON: title, introduction, items and notes
    Column("change_note", Text, nullable=False, default=""),
    UniqueConstraint("issue_id", "version"),
)

issue_published = Table(
    "issue_published",
    metadata,
    Column("issue_id", Integer, ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True),
    Column("message_pk", Integer, ForeignKey("messages.id", ondelete="CASCADE"),
           primary_key=True),
    Index(None, "message_pk"),
)

# The outbound queue.  A message to send is written once (outbox) in the same transaction as
# what caused it (an archived post, a confirmation request); each recipient is a row of its own
# (outbox_recipients) that the sender marks as it goes.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=True),
    Column("kind", String(20), nullable=False),  # post|notice|forward
    Column("message_pk", Integer, ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
    Column("mail_from", String(320), nullable=False),
    Column("codec", String(10), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

outbox_recipients = Table(
    "outbox_recipients",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("outbox_id", Integer, ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False),
    Column("rcpt", String(320), nullable=False),
    # Add this member's own List-Unsubscribe (RFC 8058) when sending.
    Column("personal", Boolean, nullable=False, default=False),
    Column("status", String(20), nullable=False, default="pending"),  # pending|sent|failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("sent_at", DateTime, nullable=True),
    # A delivery worker's claim ("host:pid") and until when it holds: several workers, on
    # several machines with PostgreSQL, never take the same row while the claim holds.
    Column("claimed_by", String(100), nullable=True),
    Column("claimed_until", DateTime, nullable=True),
    Index(None, "status", "next_attempt_at"),
    Index(None, "outbox_id"),
)

# Mail that came back to LIST-bounces@: kept raw for the bounce processor.
bounces = Table(
    "bounces",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", Integer, ForeignKey("mailing_lists.id", ondelete="CASCADE"), nullable=False),
    Column("token", String(320), nullable=False, default=""),
    Column("codec", String(10), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("processed", Boolean, nullable=False, default=False),
    Index(None, "processed"),
)

# Site-wide values every worker must agree on (the secret that signs unsubscribe links).
site = Table(
    "site",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

# -- PostgreSQL only: the search engine that several workers share ------------------------------
#
# These tables hold moot.search.postgres_fts's index.  They exist only in a PostgreSQL database
# (migration 0002 creates nothing on SQLite, where the search index is a tantivy directory), so
# they live in a MetaData of their own: ``metadata`` stays exactly what every database has, and
# :func:`metadata_for` gives what a given database should have.  One MetaData with conditional
# tables is not possible (SQLAlchemy and Alembic compare a table regardless of dialect), and
# creating empty PostgreSQL-typed tables in SQLite would only be pretending.

postgres_metadata = MetaData(naming_convention=metadata.naming_convention)

search_docs = Table(
    "search_docs",
    postgres_metadata,
    Column("message_pk", Integer, ForeignKey(messages.c.id, ondelete="CASCADE"),
           primary_key=True),
    Column("list_id", Integer, nullable=False),
    Column("thread_id", Integer, nullable=False),
    Column("date", DateTime, nullable=False),
    Column("tsv", TSVECTOR, nullable=False),
    Index(None, "tsv", postgresql_using="gin"),
    Index(None, "list_id", "date"),
)

# How far the index has got: the highest message key whose indexing was committed, per engine.
search_state = Table(
    "search_state",
    postgres_metadata,
    Column("engine", String(40), primary_key=True),
    Column("last_pk", Integer, nullable=False),
)


def metadata_for(dialect: str) -> list[MetaData]:
    """The tables a database of this dialect holds once migrated.

    >>> [sorted(m.tables)[:1] for m in metadata_for("sqlite")]
    [['api_tokens']]
    >>> len(metadata_for("postgresql"))
    2
    """
    return [metadata, postgres_metadata] if dialect == "postgresql" else [metadata]
