from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('advisories', '0003_feed_periodic_task'),
    ]

    operations = [
        migrations.AddField(
            model_name='feedstate',
            name='problem_count',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='feedstate',
            name='problems',
            field=models.JSONField(blank=True, default=list),
        ),
    ]
