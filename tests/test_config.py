"""Config: embedded defaults run; a bad value names the key; secrets from the environment."""
from datetime import date, time

import pytest

from bot.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for var in ("ADUAN_CONFIG", "ADUAN_DATABASE_URL", "ADUAN_TELEGRAM_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no ./config.toml here


def write(tmp_path, text):
    path = tmp_path / "aduan.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_embedded_defaults_run():
    s = load_settings()
    assert s.source == "(embedded defaults)"
    assert s.database.url == "sqlite:///var/aduan.db" and s.redis.url == "memory://"
    wf = s.load_workflow()
    assert wf.name == "sp4n-lapor"
    cal = s.calendar(wf)
    assert cal.timezone_name == "Asia/Jakarta" and cal.hours[4] == (time(7, 30), time(16, 30))


def test_config_toml_in_the_working_directory_is_found(tmp_path):
    (tmp_path / "config.toml").write_text('[office]\nname = "BPS Kota Sorong"\n')
    assert load_settings().office.name == "BPS Kota Sorong"


def test_aduan_config_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("ADUAN_CONFIG", write(tmp_path, '[workflow]\npreset = "bangkalan"\n'))
    assert load_settings().workflow.preset == "bangkalan"


def test_a_preset_brings_its_zone_and_hours_unless_the_office_sets_them(tmp_path):
    s = load_settings(write(tmp_path, '[workflow]\npreset = "bps-bengkulu"\n'))
    cal = s.calendar(s.load_workflow())
    assert cal.hours[0] == (time(8, 0), time(15, 30)) and cal.hours[4] == (time(8, 0), time(16, 0))
    s = load_settings(write(tmp_path, '[workflow]\npreset = "bps-kaltim"\n'))
    assert s.calendar(s.load_workflow()).timezone_name == "Asia/Makassar"
    s = load_settings(write(tmp_path, '[workflow]\npreset = "pst-sorong"\n[office]\ntimezone = "Asia/Jakarta"\n'
                                      '[office.hours]\nmon = "08:00-12:00"\n'))
    cal = s.calendar(s.load_workflow())
    assert cal.timezone_name == "Asia/Jakarta" and list(cal.hours) == [0]


def test_extra_days_off_as_dates_or_named(tmp_path):
    s = load_settings(write(tmp_path, "[office]\nextra_days_off = [2025-04-08]\n"))
    assert not s.calendar(s.load_workflow()).is_working_day(date(2025, 4, 8))
    s = load_settings(write(tmp_path, '[office.extra_days_off]\n2025-04-09 = "HUT BPS"\n'))
    assert s.calendar(s.load_workflow()).day(date(2025, 4, 9)).reason == "HUT BPS"


def test_secrets_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ADUAN_TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("ADUAN_DATABASE_URL", "postgresql+psycopg://u@db/aduan")
    s = load_settings(write(tmp_path, '[telegram]\ntoken = "from-file"\n'))
    assert s.telegram.token.get_secret_value() == "123:abc"
    assert s.database.url == "postgresql+psycopg://u@db/aduan"
    assert "123:abc" not in repr(s)  # secrets do not print


@pytest.mark.parametrize("text, message", [
    ('[office]\ntimezone = "Asia/Jakrta"\n', "office.timezone: Value error, unknown time zone 'Asia/Jakrta'"),
    ('[office.hours]\nmon = "16:00-08:00"\n', "office.hours: Value error, mon: office hours"),
    ('[office]\ndefault_language = "jv"\n', "office.default_language: Input should be 'id' or 'en'"),
    ('[office]\nticket_prefix = "adu"\n', "office.ticket_prefix: String should match pattern"),
    ('[office]\nnmae = "x"\n', "office.nmae: Extra inputs are not permitted"),
    ('[database]\nurl = "mysql://x/y"\n', "database.url: Value error, 'mysql' is not supported"),
    ('[redis]\nurl = "localhost:6379"\n', "redis.url: Value error, use memory://"),
    ('[server]\nport = 70000\n', "server.port: Input should be less than or equal to 65535"),
    ('[telegram]\nsecret_token = "has spaces"\n', "telegram.secret_token: Value error, 1-256 characters"),
    ('[whatsapp]\nfrom_number = "0812345"\n', "whatsapp.from_number: String should match pattern"),
    ('[workflow]\npreset = "bps-jambi"\n', "workflow.preset: bps-jambi: no such preset or file"),
    ('[[categories]]\nid = "a"\nlabel_id = "A"\nlabel_en = "A"\nsla = { answred = "7 days" }\n',
     "categories[0].sla.answred: not a state of workflow 'sp4n-lapor'"),
    ('[[categories]]\nid = "a"\nlabel_id = "A"\nlabel_en = "A"\nsla = { answered = "7 dayz" }\n',
     "categories[0].sla.answered: cannot read SLA"),
    ("[office\n", "not valid TOML"),
])
def test_a_bad_value_names_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert str(err.value).startswith(path + ": ")
    assert message in str(err.value)


def test_an_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(str(tmp_path / "nope.toml"))


def test_the_example_config_is_valid_and_documents_every_key():
    from pathlib import Path

    from bot.config import Settings

    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    s = load_settings(str(example))
    assert s.office.name
    text = example.read_text(encoding="utf-8")
    for section, field in Settings.model_fields.items():
        assert f"[{section}]" in text or f"[[{section}]]" in text, section
        model = field.annotation
        if isinstance(model, type) and hasattr(model, "model_fields"):
            for key in model.model_fields:
                assert f"{key} =" in text or f"[{section}.{key}]" in text, f"{section}.{key}"


@pytest.mark.parametrize("preset, zone", [("pst-sorong", "Asia/Jayapura"), ("bps-kaltim", "Asia/Makassar"),
                                          ("bps-bengkulu", "Asia/Jakarta"), ("bangkalan", "Asia/Jakarta")])
def test_the_example_config_leaves_each_preset_its_own_clock(tmp_path, preset, zone):
    from pathlib import Path

    example = (Path(__file__).resolve().parent.parent / "config.example.toml").read_text(encoding="utf-8")
    s = load_settings(write(tmp_path, example.replace('preset = "sp4n-lapor"', f'preset = "{preset}"')))
    assert s.calendar(s.load_workflow()).timezone_name == zone


def test_an_environment_value_is_blamed_on_its_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("ADUAN_SERVER_PORT", "abc")
    with pytest.raises(ConfigError, match=r"^ADUAN_SERVER_PORT \(environment\): server.port"):
        load_settings(write(tmp_path, ""))


@pytest.mark.parametrize("content, message", [(b"\xff\xfe[office]", "not UTF-8"), (None, "cannot read")])
def test_unreadable_config_files(tmp_path, content, message):
    path = tmp_path / "c.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(str(path))


def test_a_bad_extra_day_off_names_the_value(tmp_path):
    with pytest.raises(ConfigError, match="office.extra_days_off.2025-02-30"):
        load_settings(write(tmp_path, '[office]\nextra_days_off = ["2025-02-30"]\n'))
