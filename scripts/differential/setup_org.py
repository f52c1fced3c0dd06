"""Create one organization and an organization access token for the differential check."""
import sys
from datetime import datetime, UTC
from sqlalchemy.orm import Session
from polar.config import settings
from polar.postgres import create_sync_engine
from polar.models import Organization, OrganizationAccessToken
from polar.kit.crypto import get_token_hash
from polar.auth.scope import Scope

token = sys.argv[1]
slug = sys.argv[2]
engine = create_sync_engine("script")
with Session(engine) as s:
    org = Organization(name=slug, slug=slug, customer_invoice_prefix=slug.upper()[:8],
                       created_at=datetime(2025, 7, 1, tzinfo=UTC))
    s.add(org)
    s.flush()
    oat = OrganizationAccessToken(token=get_token_hash(token, secret=settings.SECRET),
                                  scope=" ".join(s_.value for s_ in Scope),
                                  comment="differential", organization_id=org.id)
    s.add(oat)
    s.commit()
    print(org.id)
