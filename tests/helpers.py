"""Small helpers shared by the tests."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters


def assert_valid_output(client: BaseClient, operation: str, response: dict[str, Any]) -> None:
    """The response fits botocore's output shape (as Stubber validates canned responses)."""
    shape = client.meta.service_model.operation_model(operation).output_shape
    body = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    if shape is None:
        assert body == {}
        return
    validate_parameters(body, shape)
    metadata = response["ResponseMetadata"]
    assert metadata["HTTPStatusCode"] == 200
    assert len(metadata["RequestId"]) == 36


def assert_client_error(
    excinfo: pytest.ExceptionInfo[ClientError], code: str, message: str, status: int = 400
) -> None:
    """The ClientError has exactly this code, message and HTTP status."""
    error = excinfo.value.response
    assert error["Error"]["Code"] == code
    assert error["Error"]["Message"] == message
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert len(error["ResponseMetadata"]["RequestId"]) == 36


# Other installed plugins stay out of pytester's inner sessions: pytest-randomly would reorder
# the inner tests, pytest-asyncio warns at configure time (an error under filterwarnings=error),
# and hypothesis' plugin re-imports hypothesis in every inline run (pytester restores sys.modules).
# An inner session runs in this process, where this package is already imported: when it finds
# the package's metadata (e.g. the ``*.egg-info`` an editable install leaves in the checkout),
# it would ask to rewrite the package's asserts and warn that it cannot (an error under
# filterwarnings=error), so that one warning is ignored there.
ISOLATE = (
    "-W",
    "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning",
    "-p",
    "no:randomly",
    "-p",
    "no:asyncio",
    "-p",
    "no:hypothesispytest",
    "-p",
    "no:benchmark",
    "-p",
    "no:cacheprovider",
)
