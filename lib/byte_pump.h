/* Relaying a byte stream both ways between two fds: the guest's relay of
 * the host channel to its gRPC socket (guest/init/relay.c) and the shim's
 * relay of a vsock connection to its unix socket (host-shim/host_vsock.c). */
#ifndef RUNM_BYTE_PUMP_H
#define RUNM_BYTE_PUMP_H

/* Bytes held per direction: a direction whose writer is slow stops reading
 * from its reader (backpressure reaches the sender), while the other
 * direction keeps flowing. */
#define RUNM_PUMP_BUF (64 * 1024)

/* Moves bytes from a to b and from b to a until either side ends (EOF,
 * hang-up or an error) or stopfd, when >= 0, becomes readable. Puts a and b
 * in non-blocking mode (other flags kept) so one direction never stalls the
 * other. Returns 0 when a side or stopfd ended it, or a negative errno when
 * it could not start (no memory, fcntl failed). Closes nothing. */
int runm_pump_bytes(int a, int b, int stopfd);

#endif
