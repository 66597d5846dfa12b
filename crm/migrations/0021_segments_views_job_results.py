"""Issue 14: saved views, segments (dynamic by filter, static by members), and job outcomes
(job_error rows, a job's result, its produced file, dry runs) for bulk actions, imports, exports.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0020_recordings')]

    initial = False

    operations = [
        ops.CreateModel(
            name='JobError',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('job', fields.ForeignKeyField('models.BackgroundJob', source_field='job_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('row', fields.IntField(null=True)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('column', fields.CharField(null=True, max_length=200)),
                ('code', fields.CharField(max_length=32)),
                ('message', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'job_error', 'app': 'models', 'indexes': [Index(fields=['job_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SavedView',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('name', fields.CharField(max_length=100)),
                ('filter_spec', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('order_by', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('columns', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('shared', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'saved_view', 'app': 'models', 'indexes': [Index(fields=['account_id', 'user_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Segment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('kind', fields.CharField(max_length=8)),
                ('filter_spec', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'segment', 'app': 'models', 'unique_together': (('account', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SegmentMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('segment', fields.ForeignKeyField('models.Segment', source_field='segment_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('added_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'segment_member', 'app': 'models', 'unique_together': (('segment', 'contact'),), 'indexes': [Index(fields=['contact_id', 'segment_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='BackgroundJob',
            name='dry_run',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='BackgroundJob',
            name='file_content_type',
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AddField(
            model_name='BackgroundJob',
            name='file_key',
            field=fields.CharField(null=True, max_length=300),
        ),
        ops.AddField(
            model_name='BackgroundJob',
            name='file_name',
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddField(
            model_name='BackgroundJob',
            name='file_size',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='BackgroundJob',
            name='result',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
    ]
