"""The partner contract: every hook a Dossier plugin can implement.

Implement a hook with `@hookimpl` (`from dossier.plugin import hookimpl`: partners import
everything from `dossier.plugin`, see docs/plugins.md), as a plain function or `async def`.
Event hooks are delivered through the outbox *after* the change
committed: they receive a `CardEvent` snapshot, never ORM objects; they may
take their time (they never block a mutation); raising makes the dispatcher retry the
same event for the same plugin later, with exponential backoff, up to the configured
number of attempts. Use `event.id` to make a handler idempotent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from crm.contracts import (
    CardAddress,
    CardContact,
    CardLink,
    EmailReceipt,
    OutboundEmail,
    OutboundSms,
    PhoneLine,
    PropertyFacts,
    SmsReceipt,
)
from crm.events import AccountEvent, CardEvent, ReminderEvent
from crm.wiring import EventAudience

if TYPE_CHECKING:
    from plugins.host import PluginHost

hookspec = pluggy.HookspecMarker("dossier")

# ---------------------------------------------------------------------------------------
# Start-up
# ---------------------------------------------------------------------------------------


@hookspec
def startup(host: PluginHost) -> None:
    """The app is starting: read your settings from `host`, keep `host` for later. May be async."""


@hookspec
def capabilities() -> list[str]:
    """What you can do right now, e.g. ["sms", "phone_lookup"]; return [] when not configured."""


@hookspec
def register_routes() -> list[Any]:
    """Starlette routes to mount, e.g. provider webhooks. Called once at start-up."""


@hookspec
def event_audience() -> EventAudience | None:
    """An async `(conn, account_id, hook) -> bool` deciding, inside the change's transaction,
    whether you want this account's event at all; no outbox row is written when it says no."""


# ---------------------------------------------------------------------------------------
# Providers: Dossier calls them in order and stops at the first non-None result
# ---------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def send_sms(message: OutboundSms) -> SmsReceipt | None:
    """Hand one text to an SMS provider; raise to have it retried. Stops at first non-None result."""


@hookspec(firstresult=True)
def lookup_phone_line(phone: str) -> PhoneLine | None:
    """The line type (mobile, landline, ...) of an E.164 number. Stops at first non-None result."""


@hookspec(firstresult=True)
def send_email(message: OutboundEmail) -> EmailReceipt | None:
    """Send one email; raise to have it retried. Stops at first non-None result."""


@hookspec(firstresult=True)
def property_facts(address: CardAddress) -> PropertyFacts | None:
    """Facts about the property at an address (estimate, beds, ...). Stops at first non-None result."""


# ---------------------------------------------------------------------------------------
# The card
# ---------------------------------------------------------------------------------------


@hookspec
def card_links(contact: CardContact) -> list[CardLink]:
    """Links to show on a card (directions, Zillow, tel:, ...). Runs while a query resolves: be quick."""


# ---------------------------------------------------------------------------------------
# The outbox
# ---------------------------------------------------------------------------------------


@hookspec
def event_dead_lettered(event: CardEvent, hook: str, error: str) -> None:
    """Your handler of `hook` failed on `event` for the last time; clean up (e.g. mark a send failed)."""


# ---------------------------------------------------------------------------------------
# Contact events
# ---------------------------------------------------------------------------------------


@hookspec
def contact_created(event: CardEvent) -> None:
    """A contact was created (`createContact`); `event.subject` holds its UTMs and form answers."""


@hookspec
def contact_updated(event: CardEvent) -> None:
    """Identity, header or profile fields changed (`updateContact`); `event.changes` maps each
    (e.g. "email", "leadSource", "profile.netWorth") to [before, after]."""


@hookspec
def contact_status_changed(event: CardEvent) -> None:
    """The status or sub-status changed; a conversion adds `convertedAt` to `event.changes`."""


@hookspec
def contact_owners_changed(event: CardEvent) -> None:
    """Setter owner, closer owner or assigned rep changed; changes hold the users' names."""


@hookspec
def contact_duplicated(event: CardEvent) -> None:
    """A contact was copied (`duplicateContact`); the event is the copy's, `event.subject_id` the
    source's id, `event.subject` has sourceId, tags and deals copied (not notes or history)."""


@hookspec
def contact_archived(event: CardEvent) -> None:
    """A contact went to the archive (`archiveContacts`); `event.changes["archivedAt"]` is [None, time]."""


@hookspec
def contact_restored(event: CardEvent) -> None:
    """An archived contact was restored (`restoreContacts`); `event.changes["archivedAt"]` is [time, None]."""


@hookspec
def contact_deleted(event: CardEvent) -> None:
    """An archived contact was deleted for good (`deleteContacts`), with everything tied to it:
    erase your copies. `event.subject` is its last snapshot (identity, address, status, owners,
    tags); the contact no longer exists when this runs."""


@hookspec
def contacts_merged(event: CardEvent) -> None:
    """Duplicates were merged into `event.contact` (`mergeContacts`); `event.subject` has mergeId,
    absorbed [{id, displayName}], moved (counts per kind) and filled {field: {from, value}}."""


@hookspec
def contact_unmerged(event: CardEvent) -> None:
    """A merge was undone (`unmergeContacts`): fires for the primary and for each restored contact;
    `event.subject` has mergeId, primaryId and restored [{id, displayName}]."""


@hookspec
def tag_added(event: CardEvent) -> None:
    """A tag was put on the contact; `event.subject["name"]` is the tag."""


@hookspec
def tag_removed(event: CardEvent) -> None:
    """A tag was taken off the contact; `event.subject["name"]` is the tag."""


# ---------------------------------------------------------------------------------------
# Call events (event.subject_type == "Call")
# ---------------------------------------------------------------------------------------


@hookspec
def call_scheduled(event: CardEvent) -> None:
    """A call was booked; `event.subject` has eventName, scheduledAt, durationMinutes."""


@hookspec
def call_rescheduled(event: CardEvent) -> None:
    """A call moved; `event.changes["scheduledAt"]` is [old, new] in ISO 8601 UTC."""


@hookspec
def call_cancelled(event: CardEvent) -> None:
    """A call was cancelled; `event.changes["cancelReason"][1]` is the reason, if given."""


@hookspec
def call_outcome_set(event: CardEvent) -> None:
    """A call's outcome (CALLED, NO_ANSWER, SPOKE, NO_SHOW, ...) was set or changed."""


@hookspec
def call_logged(event: CardEvent) -> None:
    """A call that already happened was logged (`logCall`); `event.subject` has direction,
    occurredAt, durationSeconds, outcome, summary, recordingUrl."""


@hookspec
def recording_attached(event: CardEvent) -> None:
    """A call's recording was stored (`attachRecording`, a provider's callback, or
    `store_recording_from_url`), replacing any earlier one; `event.subject` has attachmentId,
    filename, contentType, sizeBytes, durationSeconds, sha256, source and replacedAttachmentId."""


@hookspec
def recording_shared(event: CardEvent) -> None:
    """A share link to a call's recording was made (`shareRecording`); `event.subject` has
    shareId, attachmentId and expiresAt (never the link itself: it is a secret)."""


@hookspec
def recording_share_revoked(event: CardEvent) -> None:
    """A recording's share link was revoked (`revokeRecordingShare`); `event.subject` has
    shareId, attachmentId, expiresAt and revokedAt."""


# ---------------------------------------------------------------------------------------
# Reminders (a ReminderEvent; crm/services/reminders.py): fired when a due time arrives,
# once per due time -- the in-app notification and NOTIFICATION_SENT exist once; the hook is
# delivered at least once, with the same event.id on every retry
# ---------------------------------------------------------------------------------------


@hookspec
def task_due(event: ReminderEvent) -> None:
    """An open task fell due (its dueAt passed); `event.recipients` are the users to tell (the
    assignee, else the task's owner). Never fires for a done or cancelled task, nor for a due
    time moved since (the new one fires instead)."""


@hookspec
def call_reminder(event: ReminderEvent) -> None:
    """A booked call starts in DOSSIER_CALL_REMINDER_MINUTES (default 15); `event.due_at` is its
    start, `event.recipients` the user who booked it, else the contact's owners."""


# ---------------------------------------------------------------------------------------
# Deal events (event.subject_type == "Deal")
# ---------------------------------------------------------------------------------------


@hookspec
def deal_added(event: CardEvent) -> None:
    """A deal was added; `event.subject` has productName, amount (a decimal string in the
    currency's minor units: "1999.50" USD, "2000" JPY), currency, status, likelihood (percent or
    null) and closeDate (YYYY-MM-DD or null)."""


@hookspec
def deal_updated(event: CardEvent) -> None:
    """A deal changed, e.g. its status went to WON; `event.changes` has [before, after]."""


# ---------------------------------------------------------------------------------------
# Quote, job and invoice events (event.subject_type "Quote", "Job", "Invoice"; see
# crm/services/billing.py). `event.subject` is the whole document as of the commit, for
# syncing accounting: its global `id` and `contactId`, number, status, currency, lineItems
# (description, quantity, unitPrice, taxRate, subtotal, tax, total) and the totals, every
# amount a decimal string in the currency's minor units ("1999.50" USD, "2000" JPY).
# ---------------------------------------------------------------------------------------


@hookspec
def quote_created(event: CardEvent) -> None:
    """A quote was drafted (`createQuote`); `event.subject` is the quote."""


@hookspec
def quote_updated(event: CardEvent) -> None:
    """A quote's title, notes, validUntil, currency or line items changed (`updateQuote`)."""


@hookspec
def quote_status_changed(event: CardEvent) -> None:
    """A quote was sent, accepted, declined or expired (`setQuoteStatus`); `event.changes["status"]`."""


@hookspec
def job_created(event: CardEvent) -> None:
    """A job was scheduled (`createJob`); `event.subject` has title, status, scheduledStart/End,
    assigneeId, quoteId."""


@hookspec
def job_updated(event: CardEvent) -> None:
    """A job's title, window, assignee, quote or notes changed (`updateJob`)."""


@hookspec
def job_status_changed(event: CardEvent) -> None:
    """A job started, was done, cancelled or reopened (`setJobStatus`); completedAt is set on DONE."""


@hookspec
def invoice_created(event: CardEvent) -> None:
    """An invoice was drafted (`createInvoice`); `event.subject` is the invoice."""


@hookspec
def invoice_updated(event: CardEvent) -> None:
    """An invoice's title, notes, due date, currency or line items changed (`updateInvoice`)."""


@hookspec
def invoice_status_changed(event: CardEvent) -> None:
    """An invoice was sent or voided (`setInvoiceStatus`); `event.changes["status"]`."""


@hookspec
def invoice_payment_recorded(event: CardEvent) -> None:
    """A payment was recorded (`recordInvoicePayment`); `event.subject["payment"]` has amount and
    paidAt, the subject's status is PARTIALLY_PAID or PAID."""


# ---------------------------------------------------------------------------------------
# Task events (event.subject_type == "Task"; see crm/services/tasks.py). `event.subject` is the
# task as of the commit: its global `id` and `contactId`, kind, title, body (sanitised HTML),
# dueAt (ISO 8601 with the offset it was given in, or null), durationMinutes, assigneeId,
# ownerId, status, completedAt, completedById, overdue.
# ---------------------------------------------------------------------------------------


@hookspec
def task_created(event: CardEvent) -> None:
    """A task was added to the card (`createTask`); a due time may already be past (overdue)."""


@hookspec
def task_updated(event: CardEvent) -> None:
    """A task changed (`updateTask`); `event.changes` has [before, after] of each field changed."""


@hookspec
def task_completed(event: CardEvent) -> None:
    """A task was marked DONE (`completeTask`); `event.subject` has completedAt and completedById."""


@hookspec
def task_reopened(event: CardEvent) -> None:
    """A DONE or CANCELLED task was made OPEN again (`reopenTask`)."""


@hookspec
def task_cancelled(event: CardEvent) -> None:
    """An OPEN task was cancelled (`cancelTask`): it will not fall due."""


# ---------------------------------------------------------------------------------------
# Segment membership (event.subject_type == "Segment"; see crm/services/segments.py)
# ---------------------------------------------------------------------------------------


@hookspec
def contact_added_to_segment(event: CardEvent) -> None:
    """The contact joined a STATIC segment (`addToSegment`, `createSegment` with contactIds, the
    bulk action ADD_TO_SEGMENT); `event.subject` has the segment's id, name and kind."""


@hookspec
def contact_removed_from_segment(event: CardEvent) -> None:
    """The contact left a STATIC segment (`removeFromSegment`); `event.subject` as when added."""


@hookspec
def contact_exported(event: CardEvent) -> None:
    """The contact's data was exported whole (`exportContact`: a GDPR access request);
    `event.subject` has jobId, fileName, size and files (how many files the ZIP holds)."""


# ---------------------------------------------------------------------------------------
# Note events (event.subject_type == "Note")
# ---------------------------------------------------------------------------------------


@hookspec
def note_added(event: CardEvent) -> None:
    """A note was posted; `event.subject["body"]` is its sanitised HTML."""


@hookspec
def note_edited(event: CardEvent) -> None:
    """A note was edited; `event.changes["body"]` is [old HTML, new HTML]."""


@hookspec
def note_deleted(event: CardEvent) -> None:
    """A note was deleted; `event.subject["body"]` is what it said."""


@hookspec
def attachment_added(event: CardEvent) -> None:
    """A file was attached to a card (`addAttachment`, POST /attachments, a call's recording);
    `event.subject` has kind, title, filename, contentType, size, sha256, callId, durationSeconds."""


@hookspec
def attachment_deleted(event: CardEvent) -> None:
    """A file was deleted from a card (`deleteAttachment`); `event.subject` is the file as it was."""


# ---------------------------------------------------------------------------------------
# Messages and consent (event.subject_type == "Message" for message events)
# ---------------------------------------------------------------------------------------


@hookspec
def sms_queued(event: CardEvent) -> None:
    """A user queued an SMS (`sendSms`); the SMS plugin sends it. `event.subject` has to/body/messageId."""


@hookspec
def sms_status_changed(event: CardEvent) -> None:
    """An outbound SMS was sent, delivered or failed; kind SMS_SENT, SMS_DELIVERED or SMS_FAILED."""


@hookspec
def sms_received(event: CardEvent) -> None:
    """An inbound SMS landed in the contact's thread; `event.subject` has from/body."""


@hookspec
def sms_consent_changed(event: CardEvent) -> None:
    """okToSms changed (a user's switch, a STOP/START reply, a line check)."""


@hookspec
def phone_check_requested(event: CardEvent) -> None:
    """A user asked to re-check the phone's line type (`verifyPhone`); `event.subject["phone"]`."""


@hookspec
def phone_verified(event: CardEvent) -> None:
    """A line check finished; `event.subject` has phone, lineType, carrier."""


@hookspec
def email_queued(event: CardEvent) -> None:
    """A user queued an email (`sendEmail`); the email plugin sends it."""


@hookspec
def email_status_changed(event: CardEvent) -> None:
    """An outbound email was sent or failed; kind EMAIL_SENT or EMAIL_FAILED."""


@hookspec
def chat_received(event: CardEvent) -> None:
    """A chat plugin recorded what the contact wrote in a chat (`record_chat_message`, INBOUND);
    `event.subject` is the message (body)."""


@hookspec
def chat_sent(event: CardEvent) -> None:
    """A chat plugin recorded the business's answer in a chat (`record_chat_message`, OUTBOUND);
    `event.subject` is the message (body)."""


# ---------------------------------------------------------------------------------------
# Conversion events (event.subject_type == "Conversion"; see crm/services/conversions.py)
# ---------------------------------------------------------------------------------------


@hookspec
def conversion_sent(event: CardEvent) -> None:
    """A conversion was released to the client (a CLIENT status, `sendToClient`, or a manager's
    `approveConversion`); `event.subject["record"]` is what the client gets, the email plugin
    mails it to the account's client address."""


@hookspec
def conversion_held(event: CardEvent) -> None:
    """A conversion waits for a manager's review (a MANAGER status or `sendToClient`)."""


@hookspec
def conversion_rejected(event: CardEvent) -> None:
    """A manager rejected a held conversion; `event.subject["reason"]` says why."""


# ---------------------------------------------------------------------------------------
# Lead events (event.subject_type == "Lead"; see crm/services/leads.py)
# ---------------------------------------------------------------------------------------


@hookspec
def lead_submitted(event: CardEvent) -> None:
    """A form submission was stored as a lead (`submitLead`, `POST /forms/{key}`);
    `event.subject` is the lead with its matchReason, status, answers and UTMs."""


# ---------------------------------------------------------------------------------------
# Referrals, rewards and opt-ins (see crm/services/referrals.py, rewards.py, optins.py)
# ---------------------------------------------------------------------------------------


@hookspec
def inviter_set(event: CardEvent) -> None:
    """The contact's inviter changed (`setInviter`, or a lead carrying a referral code);
    `event.changes["inviter"]` is `[before, after]` as `{"id", "name"}` or None."""


@hookspec
def reward_earned(event: CardEvent) -> None:
    """A reward was earned (`earnReward`); `event.subject` is the ledger line (amount, currency,
    reason) with the contact's balance after it."""


@hookspec
def reward_issued(event: CardEvent) -> None:
    """A reward was issued, i.e. paid out (`issueReward`); `event.subject` as for reward_earned,
    with the note. Pay it out here (a gift card, a transfer), idempotently by `event.id`."""


@hookspec
def promo_redeemed(event: CardEvent) -> None:
    """A promo code was redeemed (`redeemPromo`); `event.subject` has promoCode and the amount
    taken from the balance (0 when none)."""


@hookspec
def opt_in_changed(event: CardEvent) -> None:
    """The privacy or communication opt-in changed (`setOptIns`, a lead's consent fields);
    `event.changes` has privacyOptIn / communicationOptIn `[before, after]` and their sources.
    `event.contact` carries both opt-ins on every event: check communication_opt_in before
    marketing."""


# ---------------------------------------------------------------------------------------
# Custom fields (see crm/services/custom_fields.py)
# ---------------------------------------------------------------------------------------


@hookspec
def custom_field_values_changed(event: CardEvent) -> None:
    """Custom field values of a contact changed (`setCustomFieldValues`); `event.changes` maps
    each changed key to `[before, after]` in the values' JSON form. Not fired per contact by
    `applyCustomFieldToAll`: that fires custom_field_applied once."""


# ---------------------------------------------------------------------------------------
# Account events (an AccountEvent: not about a card, so in no contact's journey)
# ---------------------------------------------------------------------------------------


@hookspec
def api_key_created(event: AccountEvent) -> None:
    """An admin created an API key (`createApiKey`, `dossier key create`); `event.subject` has
    name, prefix, userId, userName, userEmail; never the key itself."""


@hookspec
def api_key_revoked(event: AccountEvent) -> None:
    """An API key was revoked (`revokeApiKey`, `dossier key revoke`); `event.subject` as for
    api_key_created, with revokedAt."""


@hookspec
def form_created(event: AccountEvent) -> None:
    """An admin created an intake form (`createForm`); `event.subject` has name; never the key."""


@hookspec
def form_revoked(event: AccountEvent) -> None:
    """An admin revoked an intake form (`revokeForm`); `event.subject` has name and revokedAt."""


@hookspec
def custom_field_applied(event: AccountEvent) -> None:
    """An `applyCustomFieldToAll` job finished: once for all the contacts it filled;
    `event.subject` has jobId, key, label, value, filled and skipped."""


@hookspec
def contacts_imported(event: AccountEvent) -> None:
    """An `importContacts` job (or `dossier import`) finished: once for the whole file, not per
    contact; `event.subject` has jobId, filename, mode, created, merged, duplicates, invalid."""


@hookspec
def contacts_exported(event: AccountEvent) -> None:
    """An export of the contacts table finished (`exportContacts`, bulkAction EXPORT, `dossier
    export`): once per export; `event.subject` has jobId (null from the CLI), format, rows,
    columns, fileName and size. The file itself is the job's (`BulkJob.file`)."""


@hookspec
def view_saved(event: AccountEvent) -> None:
    """A saved view of the contacts table was created or changed (`createView`, `updateView`);
    `event.subject` has id, name, shared, ownerId, columns and filterCount."""


@hookspec
def view_deleted(event: AccountEvent) -> None:
    """A saved view was deleted (`deleteView`); `event.subject` as for view_saved."""


@hookspec
def segment_saved(event: AccountEvent) -> None:
    """A segment was created, renamed or given a new filter (`createSegment`, `updateSegment`);
    `event.subject` has id, name and kind (DYNAMIC or STATIC)."""


@hookspec
def segment_deleted(event: AccountEvent) -> None:
    """A segment was deleted (`deleteSegment`); `event.subject` as for segment_saved, with members
    (how many contacts a STATIC one held)."""


@hookspec
def bulk_action_finished(event: AccountEvent) -> None:
    """A `bulkAction` job is DONE (not cancelled or failed): once per job, after the per-contact
    hooks of its changes; `event.subject` has jobId, action, total, done, skipped, failed and
    skippedByReason."""


@hookspec
def marketing_export(event: AccountEvent) -> None:
    """The bulk action MARKETING_EXPORT handed you a batch of contacts for your email-marketing
    tool (implementing this hook is what makes the action available): once per batch of up to
    200; `event.subject` has jobId, contacts (id, displayName, firstName, lastName,
    businessName, email, phone, status, communicationOptInAt: only contacts with an email who
    opted in to communication) and options (the caller's JSON, e.g. a list id)."""
