/*
 * test_port.h - loopback ports for test services, shared by the unit and
 * integration helpers.
 */
#ifndef OSPEC_TEST_PORT_H
#define OSPEC_TEST_PORT_H

/* tp_free_port returns a TCP port on 127.0.0.1 that was free a moment ago,
 * taken below the kernel's ephemeral range, or -1. */
int tp_free_port(void);

#endif
