"""patd's tests reuse the integration harness (tests/integration: harness.py,
api_client.py and the `deployment` fixture of its conftest.py) without
changing it; they live apart so that `make test-patd` runs patd's own tests
(its options, limits, signals and the abuse test) alone."""

import importlib.util
import sys
from pathlib import Path

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
sys.path.insert(0, str(INTEGRATION))

_spec = importlib.util.spec_from_file_location("integration_conftest", INTEGRATION / "conftest.py")
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)

built_binaries = _integration.built_binaries
deployment = _integration.deployment
