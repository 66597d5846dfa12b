"""submitLead, createForm, revokeForm."""

from __future__ import annotations

from datetime import datetime

import strawberry

from crm.services import leads as lead_service
from graph.context import Info
from graph.ids import decode_id
from graph.resolvers.leads_queries import form_type
from graph.resolvers.loaders import LEAD_COLUMNS
from graph.resolvers.mutations import changed, row_of
from graph.resolvers.mutations.contacts import ContactIdentityFields, FormAnswerInput, UtmInput, _identity
from graph.schema.leads import Form, Lead


@strawberry.input(
    description="One form submission. The identity fields are createContact's; a contact is found by "
    "email or phone, or made (a Guest when none of name, email and phone is given)."
)
class SubmitLeadInput(ContactIdentityFields):
    form_name: str = strawberry.field(description="The form or flow it was sent from; 1-200 characters.")
    variant: str | None = strawberry.field(
        default=None, description="The form's variant (an A/B version); at most 200 characters."
    )
    answers: list[FormAnswerInput] | None = strawberry.field(
        default=None, description="The questions and answers; at most 100. `form` defaults to formName."
    )
    utm: UtmInput | None = strawberry.field(default=None, description="The UTM parameters of the visit.")
    referrer: str | None = strawberry.field(
        default=None, description="The page that linked to the form; at most 1,000 characters."
    )
    submitted_at: datetime | None = strawberry.field(
        default=None,
        description="When it was sent, with a time zone; now when left out; at most 5 minutes ahead.",
    )
    referral_code: str | None = strawberry.field(
        default=None,
        description="The referral code the visitor came with (GET /r/{code} passed it on as ref): the "
        "code's contact becomes the contact's inviter, unless it has one (kept) or it would close a "
        "cycle. A code no contact of this account has is ignored; the lead is stored either way.",
    )
    privacy_opt_in: bool | None = strawberry.field(
        default=None, description="The form's privacy consent: true opts in, false out (source FORM)."
    )
    communication_opt_in: bool | None = strawberry.field(
        default=None,
        description="The form's communication (marketing) consent: true opts in, false out (source FORM).",
    )


@strawberry.type
class SubmitLeadPayload:
    lead: Lead = strawberry.field(description="The stored lead: its status, match reason and contact.")
    created_contact: bool = strawberry.field(description="Whether the lead made a new contact.")


@strawberry.input
class CreateFormInput:
    name: str = strawberry.field(description="The form name its leads carry; 1-200 characters.")


@strawberry.input
class RevokeFormInput:
    id: strawberry.ID = strawberry.field(description="The form's id.")


@strawberry.type
class LeadMutations:
    @strawberry.mutation(
        description="Store a form submission as a lead of the contact with its email or phone, or of a "
        "new contact; a repeat within the duplicate window is stored as DUPLICATE."
    )
    async def submit_lead(self, info: Info, input: SubmitLeadInput) -> SubmitLeadPayload:
        result = await lead_service.submit_lead(
            info.context.require_actor(),
            form_name=input.form_name,
            identity=_identity(input),
            answers=[vars(a) for a in input.answers or ()],
            utm=vars(input.utm) if input.utm else None,
            variant=input.variant,
            referrer=input.referrer,
            submitted_at=input.submitted_at,
            referral_code=input.referral_code,
            opt_ins={
                name: value
                for name, value in (
                    ("privacy", input.privacy_opt_in),
                    ("communication", input.communication_opt_in),
                )
                if value is not None
            },
        )
        changed(info)
        return SubmitLeadPayload(
            lead=Lead.from_row(row_of(result.lead, LEAD_COLUMNS)), created_contact=result.created_contact
        )

    @strawberry.mutation(description="A public intake endpoint for a web form: POST /forms/{key} (admins).")
    async def create_form(self, info: Info, input: CreateFormInput) -> Form:
        form = await lead_service.create_form(info.context.require_actor(), input.name)
        return form_type(info, form)

    @strawberry.mutation(description="Stop a form's intake: its URL answers 404; its leads stay (admins).")
    async def revoke_form(self, info: Info, input: RevokeFormInput) -> Form:
        form = await lead_service.revoke_form(info.context.require_actor(), decode_id(input.id, "Form"))
        return form_type(info, form)
