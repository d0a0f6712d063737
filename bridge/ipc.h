/* ipc.h: claiming an ipc:// socket path in the runtime dir before an NNG
 * listener binds it. */
#ifndef SWB_BRIDGE_IPC_H
#define SWB_BRIDGE_IPC_H

/* 0: path is free (a stale socket file was removed). -1: another process
 * is listening there, or the path is unusable (logged). */
int swb_bridge_ipc_claim(const char *path);

#endif
