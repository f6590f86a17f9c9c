/*
 * broker: embeds a zss broker in a C program and serves until SIGINT or SIGTERM.
 *
 *   cc broker.c $(pkg-config --cflags --libs zss) -o broker
 *   ./broker [frontend] [backend]      (default tcp://127.0.0.1:7777 tcp://127.0.0.1:7776)
 *
 * A "*" port (tcp://127.0.0.1:*) picks a free one; the endpoints bound are printed.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <zss.h>

int main(int argc, char **argv) {
  const char *frontend = argc > 1 ? argv[1] : "tcp://127.0.0.1:7777";
  const char *backend = argc > 2 ? argv[2] : "tcp://127.0.0.1:7776";

  /* Block the stop signals before zss starts its threads (they inherit the mask), then wait
   * for them here with sigwait: no async-signal-safety concerns. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  zss_broker *broker = NULL;
  if (zss_broker_bind(frontend, backend, &broker) != ZSS_RESULT_OK) {
    fprintf(stderr, "broker: %s\n", zss_last_error());
    return 1;
  }
  const char *fe = NULL, *be = NULL;
  zss_broker_frontend_endpoint(broker, &fe);
  zss_broker_backend_endpoint(broker, &be);
  if (zss_broker_start(broker) != ZSS_RESULT_OK) {
    fprintf(stderr, "broker: %s\n", zss_last_error());
    zss_broker_free(broker);
    return 1;
  }
  printf("zss %s broker\nfrontend %s\nbackend %s\n", zss_version(), fe, be);
  fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  printf("stopping on signal %d\n", sig);
  zss_broker_stop(broker);
  zss_broker_free(broker);
  return 0;
}
