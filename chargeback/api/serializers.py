from rest_framework import serializers

from chargeback.units.models import BusinessUnit


class BusinessUnitSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = BusinessUnit
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "parent",
            "owner_email",
            "billing_mode",
            "is_central",
            "archived",
        ]
