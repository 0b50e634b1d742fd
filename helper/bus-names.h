/* SPDX-License-Identifier: MIT */
/* Where reptyrd is on the system bus: one definition for the helper and
 * its clients (reptyrctl, reptyr-terminal). The contract is dbus/README.md
 * and dbus/org.reptyr.Reptyr1.xml. */
#pragma once

#include "errors.h"

#define REPTYR_BUS_NAME "org.reptyr.Reptyr1"
#define REPTYR_BUS_PATH "/org/reptyr/Reptyr1"
#define REPTYR_BUS_INTERFACE "org.reptyr.Reptyr1"
