"""Settings: from keyword arguments, or from PAYMENT_* variables only when asked."""

import pytest

from payment_lib import Settings
from payment_lib.domain.errors import ConfigurationError


def test_defaults_use_a_sqlite_file_in_the_working_directory():
    assert Settings().database_url == "sqlite:///payments.db"


def test_from_env_reads_payment_variables():
    settings = Settings.from_env(
        {
            "PAYMENT_DATABASE_URL": "postgresql+psycopg://u@localhost/db",
            "PAYMENT_RATE_LIMIT_PER_HOUR": "7",
            "PAYMENT_WEBHOOK_SECRETS": "whsec_a,whsec_b",
            "PAYMENT_RENEWAL_RETRY_DAYS": "1,2",
            "UNRELATED": "x",
        }
    )
    assert settings.database_url == "postgresql+psycopg://u@localhost/db"
    assert settings.rate_limit_per_hour == 7
    assert [s.get_secret_value() for s in settings.webhook_secrets] == ["whsec_a", "whsec_b"]
    assert settings.renewal_retry_days == (1, 2)


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("PAYMENT_RATE_LIMIT_PER_HOUR", "many", "integer"),
        ("PAYMENT_RATE_LIMIT_PER_HOUR", "0", "greater than 0"),
        ("PAYMENT_STRIPE_API_KEY", "pk_test_123", "sk_test_"),
        ("PAYMENT_WEBHOOK_SECRETS", "secret", "whsec_"),
        ("PAYMENT_SMTP_SECURITY", "tls9", "none, starttls or ssl"),
        ("PAYMENT_DATABASE_URL", "mysql://x", "sqlite or postgresql"),
        ("PAYMENT_RENEWAL_RETRY_DAYS", "1,x", "integer"),
        ("PAYMENT_RATE_LIMIT_PER_HOURS", "5", "did you mean PAYMENT_RATE_LIMIT_PER_HOUR?"),
        ("PAYMENT_STRIPE_TIMEOUT_SECONDS", "inf", "finite"),
        ("PAYMENT_STRIPE_TIMEOUT_SECONDS", "nan", "finite"),
        ("PAYMENT_STRIPE_RETRY_BACKOFF_SECONDS", "inf", "finite"),
    ],
)
def test_each_bad_variable_fails_with_one_line_naming_it(variable, value, complaint):
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({variable: value})
    message = caught.value.message
    assert message.startswith(variable + ":")
    assert complaint in message
    assert "\n" not in message


def test_bad_keyword_argument_names_the_field():
    with pytest.raises(ConfigurationError) as caught:
        Settings(rate_limit_per_hour=-1)
    assert caught.value.message.startswith("rate_limit_per_hour:")


def test_secrets_never_show_in_repr():
    settings = Settings(stripe_api_key="sk_test_abcdef123456", smtp_password="hunter2")
    assert "abcdef123456" not in repr(settings)
    assert "hunter2" not in repr(settings)


def test_the_postgresql_pool_is_sized_from_settings():
    from payment_lib import Payments

    settings = Settings(database_url="postgresql+psycopg://u@127.0.0.1:1/db",
                        database_pool_size=12, database_max_overflow=3)
    with Payments.from_settings(settings) as payments:
        pool = payments.database.engine.pool
        assert (pool.size(), pool._max_overflow) == (12, 3)


def test_variables_that_are_no_setting_of_ours_are_ignored_with_a_warning():
    """Kubernetes injects PAYMENT_SERVICE_HOST and PAYMENT_PORT for a Service named payment."""
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        settings = Settings.from_env(
            {"PAYMENT_SERVICE_HOST": "10.0.0.7", "PAYMENT_PORT": "tcp://10.0.0.7:80"}
        )
    assert settings.database_url == "sqlite:///payments.db"
    [warning] = [e for e in logs if e["event"] == "unknown PAYMENT_ variables ignored"]
    assert warning["log_level"] == "warning"
    assert warning["variables"] == ["PAYMENT_PORT", "PAYMENT_SERVICE_HOST"]


def test_an_empty_variable_means_unset():
    settings = Settings.from_env({"PAYMENT_RATE_LIMIT_PER_HOUR": "", "PAYMENT_RETURN_URL": " "})
    assert settings.rate_limit_per_hour == 5 and settings.return_url is None
