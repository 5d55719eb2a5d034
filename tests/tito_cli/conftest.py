import pytest
from tito_support import make_course


@pytest.fixture
def course(tmp_path):
    return make_course(tmp_path)
