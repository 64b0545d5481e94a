/**
 * @kata-cc/cdh: Confidential Data Hub: resources, keyprovider, sealed secrets.
 */
export {};
