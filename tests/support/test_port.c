/*
 * test_port.c - ports for the services a test starts.
 *
 * Asking the kernel for port 0 hands out a port from the ephemeral range,
 * the same range every outgoing connection takes its local port from: a
 * proxy's health check, an agent's connection or a hostile test's hundreds
 * of sockets in a test running alongside can hold that port by the time the
 * app binds it ("address in use", a failed stage). So ports come from below
 * the ephemeral range, where only listeners live: each process walks its
 * own stretch from a random start and skips any port it cannot bind now.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test_port.h"

#define TP_LOW 10000

/* tp_ephemeral_low reads the first port of the kernel's ephemeral range. */
static int tp_ephemeral_low(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int lo = 32768, hi = 60999;

	if (f != NULL) {
		if (fscanf(f, "%d %d", &lo, &hi) != 2)
			lo = 32768;
		fclose(f);
	}
	return lo;
}

/* tp_bindable reports whether port (0: any) can be bound on 127.0.0.1 now
 * and returns the port bound. */
static int tp_bindable(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), got = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((unsigned short)port);
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		getsockname(s, (struct sockaddr *)&a, &l) == 0)
		got = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return got;
}

int tp_free_port(void)
{
	static int next, span;
	int hi = tp_ephemeral_low() - 1;

	if (hi - TP_LOW < 1000)
		return tp_bindable(0); /* no room below: the kernel's choice */
	if (span != hi - TP_LOW + 1) {
		span = hi - TP_LOW + 1;
		srand((unsigned)getpid() ^ (unsigned)time(NULL));
		next = rand() % span;
	}
	for (int tries = 0; tries < span; tries++) {
		int port = TP_LOW + next;

		next = (next + 1) % span;
		if (tp_bindable(port) == port)
			return port;
	}
	return tp_bindable(0);
}
