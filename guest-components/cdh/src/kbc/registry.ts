import type { Logger } from '@kata-cc/log';
import { AaTokenSource } from '../aa-token.js';
import type { CdhConfig } from '../config.js';
import { CcKbc } from './cc-kbc.js';
import { OfflineFsKbc } from './offline-fs.js';
import type { ResourceGetter } from './resource-getter.js';

/** Creates the resource getter named by `[kbc] name` (one exhaustive switch). */
export function createResourceGetter(config: CdhConfig, deps: { logger: Logger; offlineFile?: string }): ResourceGetter {
  const name = config.kbc.name;
  switch (name) {
    case 'cc_kbc': {
      const cert = config.kbc.kbsCert ?? process.env['KBS_CERT'];
      return new CcKbc({ url: config.kbc.url, ...(cert === undefined || cert === '' ? {} : { cert }) }, { aa: new AaTokenSource(config.aaSocket), logger: deps.logger });
    }
    case 'offline_fs_kbc':
      return new OfflineFsKbc(deps.offlineFile === undefined ? {} : { file: deps.offlineFile });
  }
}
