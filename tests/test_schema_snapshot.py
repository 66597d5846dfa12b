"""The committed schema.graphql is the public contract: it must equal what the code serves."""

from pathlib import Path

from graph.schema import build_schema

SNAPSHOT = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_committed_sdl_matches_the_code() -> None:
    current = build_schema().as_str().strip()
    assert SNAPSHOT.read_text().strip() == current, (
        "schema.graphql is out of date: run `dossier schema > schema.graphql` and review the diff"
    )


def test_issue_contract_names_are_in_the_schema() -> None:
    sdl = SNAPSHOT.read_text()
    for name in (
        "contact(id: ID!): Contact",
        "contacts(\n    first: Int! = 20\n    after: String = null\n    search: String = null\n",
        "archived: Boolean! = false\n    filter: ContactFilter = null\n",  # issue 14: filter, orderBy
        "orderBy: [ContactOrder!] = null\n  ): ContactConnection!",
        "duplicateContact(input: DuplicateContactInput!): DuplicateContactPayload!",
        "archiveContacts(input: ArchiveContactsInput!): ArchiveContactsPayload!",
        "restoreContacts(input: RestoreContactsInput!): RestoreContactsPayload!",
        "deleteContacts(input: DeleteContactsInput!): DeleteContactsPayload!",
        "logCall(input: LogCallInput!): Call!",
        'contactByPhone(\n    """Any format."""\n    phone: String!\n  ): Contact\n',
        "node(id: ID!): Node",
        "viewer: Viewer!",
        "users: [User!]!",
        "createContact(input: CreateContactInput!): Contact!",
        "deleteNote(input: DeleteNoteInput!): Note!",
        "journey(contactId: ID!): JourneyEvent!",
        "submitLead(input: SubmitLeadInput!): SubmitLeadPayload!",
        "createForm(input: CreateFormInput!): Form!",
        "mergeContacts(input: MergeContactsInput!): MergeContactsPayload!",
        "unmergeContacts(input: UnmergeContactsInput!): UnmergeContactsPayload!",
        "leads(first: Int! = 20, after: String = null, formName: String = null, status: LeadStatus = null)"
        ": LeadConnection!",
        "sendToClient(input: SendToClientInput!): Conversion!",
        "approveConversion(input: ApproveConversionInput!): Conversion!",
        "rejectConversion(input: RejectConversionInput!): Conversion!",
        "    status: ConversionStatus = null\n  ): ConversionConnection!",
    ):
        assert name in sdl, name
