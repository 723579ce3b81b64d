/*
 * The pod sandbox ("pause") process of the end-to-end test cluster: it only
 * holds the pod's namespaces open. As PID 1 of the sandbox it exits on
 * SIGINT/SIGTERM and reaps orphaned children so no zombies pile up.
 * Built statically by test/cluster/images.sh; written for this repository.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_exit_signal(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  struct sigaction sa;
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("pause (cnpg-disk e2e) 1.0");
    return 0;
  }
  if (getpid() != 1) {
    fputs("warning: pause should be the first process of a sandbox\n", stderr);
  }
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_exit_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = on_child;
  sa.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  for (;;) {
    pause();
  }
  return 1;
}
