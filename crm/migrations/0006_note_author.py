"""Who wrote a note, user or plugin: its kind and name, as the journey names actors.

Notes written before this migration take both from their NOTE_ADDED journey entry (which
names a plugin that wrote one), or, without one, from their author user.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0005_crash_safe_delivery")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Note",
            name="author_kind",
            field=fields.CharField(max_length=16, default="USER", db_default="USER"),
        ),
        ops.AddField(
            model_name="Note",
            name="author_name",
            field=fields.CharField(max_length=120, default="", db_default=""),
        ),
        ops.RunSQL(
            "UPDATE note SET"
            " author_kind = COALESCE((SELECT j.actor_kind FROM journey_event j"
            "   WHERE j.contact_id = note.contact_id AND j.kind = 'NOTE_ADDED'"
            "   AND j.subject_type = 'Note' AND j.subject_id = note.id ORDER BY j.id LIMIT 1), 'USER'),"
            " author_name = COALESCE((SELECT j.actor_name FROM journey_event j"
            "   WHERE j.contact_id = note.contact_id AND j.kind = 'NOTE_ADDED'"
            "   AND j.subject_type = 'Note' AND j.subject_id = note.id ORDER BY j.id LIMIT 1),"
            "   (SELECT u.name FROM app_user u WHERE u.id = note.author_id), '')",
            reverse_sql="SELECT 1",
        ),
    ]
