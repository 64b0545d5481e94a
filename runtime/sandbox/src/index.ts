/**
 * @kata-cc/sandbox: A VM sandbox: hypervisor, agent client and resources.
 */
export {};
