from pathlib import Path

import pytest

from os1.config import ConfigError, load_settings, set_in_config_file


def test_defaults_then_file_then_env_then_command_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('model = "fast"\nthreads = 3\ntemperature = 0.4\n')
    env = {"OS1_CONFIG_FILE": str(config), "OS1_THREADS": "2", "OS1_USER_NAME": "ana"}
    resolved = load_settings(env=env, overrides={"user_name": "theo"})
    s = resolved.settings
    assert (s.model, s.threads, s.temperature, s.user_name) == ("fast", 2, 0.4, "theo")
    sources = {x.name: x.source for x in resolved.sources}
    assert sources["model"] == f"config file {config}"
    assert sources["threads"] == "env OS1_THREADS"
    assert sources["user_name"] == "command line"
    assert sources["context_tokens"] == "default"


def test_bad_value_names_setting_and_source(tmp_path: Path) -> None:
    env = {"OS1_CONFIG_FILE": str(tmp_path / "none.toml"), "OS1_THREADS": "many"}
    with pytest.raises(ConfigError, match="env OS1_THREADS: threads = 'many'"):
        load_settings(env=env)


def test_unknown_key_in_file_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("modle = 'fast'\n")
    with pytest.raises(ConfigError, match="unknown settings: modle"):
        load_settings(env={"OS1_CONFIG_FILE": str(config)})


def test_broken_toml_is_reported_with_the_path(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("model = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(env={"OS1_CONFIG_FILE": str(config)})


def test_server_url_must_be_http(tmp_path: Path) -> None:
    env = {"OS1_CONFIG_FILE": str(tmp_path / "x.toml"), "OS1_LLM_URL": "localhost:8000"}
    with pytest.raises(ConfigError, match="must start with http"):
        load_settings(env=env)


def test_api_key_is_marked_secret(tmp_path: Path) -> None:
    env = {"OS1_CONFIG_FILE": str(tmp_path / "x.toml"), "OS1_LLM_API_KEY": "sk-123"}
    key = next(s for s in load_settings(env=env).sources if s.name == "llm_api_key")
    assert key.secret and key.value == "sk-123"


def test_unreadable_config_file_is_a_config_error(tmp_path: Path) -> None:
    folder = tmp_path / "config.toml"
    folder.mkdir()  # a folder where the file should be
    with pytest.raises(ConfigError, match="Cannot read the config file"):
        load_settings(env={"OS1_CONFIG_FILE": str(folder)})


def test_boolean_settings_read_words_not_truthiness(tmp_path: Path) -> None:
    env = {"OS1_CONFIG_FILE": str(tmp_path / "none.toml")}
    for word, expected in (("false", False), ("off", False), ("0", False), ("no", False),
                           ("TRUE", True), ("on", True), ("1", True)):
        assert load_settings(env={**env, "OS1_MEMORY": word}).settings.memory is expected
    with pytest.raises(ConfigError, match="not a valid bool"):
        load_settings(env={**env, "OS1_AFFECT": "sometimes"})


def test_config_set_keeps_other_lines_and_checks_the_value(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('model = "fast"\naffect = true\n', encoding="utf-8")
    assert set_in_config_file(config, "affect", "off") is False
    assert set_in_config_file(config, "temperature", "0.7") == 0.7
    assert config.read_text(encoding="utf-8") == (
        'model = "fast"\naffect = false\ntemperature = 0.7\n')
    resolved = load_settings(env={"OS1_CONFIG_FILE": str(config)})
    assert resolved.settings.affect is False and resolved.settings.model == "fast"
    with pytest.raises(ConfigError, match="no setting"):
        set_in_config_file(config, "colour", "blue")
    with pytest.raises(ConfigError, match="not a valid int"):
        set_in_config_file(config, "threads", "many")
    assert "threads" not in config.read_text(encoding="utf-8")
