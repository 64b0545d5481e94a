/** Version reported by `--version` and `-info`. */
export const SHIM_VERSION = '0.1.0';
/** Where the configuration is read when neither CRI options nor KATA_CONF_FILE name one. */
export const DEFAULT_CONFIG_PATH = '/etc/kata-cc/configuration.toml';
