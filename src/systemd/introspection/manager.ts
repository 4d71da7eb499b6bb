// The subset of org.freedesktop.systemd1.Manager that livetree calls, as systemd 252 declares it
// (`busctl introspect org.freedesktop.systemd1 /org/freedesktop/systemd1`). Kept in the repo so
// proxies are built without a run-time Introspect round trip, and so a reader sees exactly
// which calls livetree can make: it only reads, plus RestartUnit when asked to restart and ReloadUnit when asked to
// reload (`restart --reload-needed`).
// LoadUnit reads a unit's definition to answer about a unit named on the command line that is
// not loaded (as `systemctl show` does); it starts nothing.
import {PROPERTIES_XML} from './properties.js';
export const MANAGER_PATH = '/org/freedesktop/systemd1';
export const SYSTEMD_BUS_NAME = 'org.freedesktop.systemd1';
export const MANAGER_INTERFACE = 'org.freedesktop.systemd1.Manager';

export const MANAGER_XML = `<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
 <interface name="org.freedesktop.systemd1.Manager">
  <method name="GetUnit">
   <arg type="s" name="name" direction="in"/>
   <arg type="o" name="unit" direction="out"/>
  </method>
  <method name="GetUnitByPID">
   <arg type="u" name="pid" direction="in"/>
   <arg type="o" name="unit" direction="out"/>
  </method>
  <method name="LoadUnit">
   <arg type="s" name="name" direction="in"/>
   <arg type="o" name="unit" direction="out"/>
  </method>
  <method name="ListUnits">
   <arg type="a(ssssssouso)" name="units" direction="out"/>
  </method>
  <method name="RestartUnit">
   <arg type="s" name="name" direction="in"/>
   <arg type="s" name="mode" direction="in"/>
   <arg type="o" name="job" direction="out"/>
  </method>
  <method name="ReloadUnit">
   <arg type="s" name="name" direction="in"/>
   <arg type="s" name="mode" direction="in"/>
   <arg type="o" name="job" direction="out"/>
  </method>
  <method name="Subscribe">
  </method>
  <method name="Unsubscribe">
  </method>
  <signal name="JobRemoved">
   <arg type="u" name="id"/>
   <arg type="o" name="job"/>
   <arg type="s" name="unit"/>
   <arg type="s" name="result"/>
  </signal>
  <property name="Version" type="s" access="read"/>
 </interface>
${PROPERTIES_XML}</node>`;

// The bus daemon's own interface, for NameHasOwner: livetree checks that systemd owns its name
// before calling it, because a call to an unowned name makes a session bus try to *activate*
// it (Debian ships an org.freedesktop.systemd1 activation file that just fails).
export const DBUS_NAME = 'org.freedesktop.DBus';
export const DBUS_PATH = '/org/freedesktop/DBus';
export const DBUS_XML = `<node>
 <interface name="org.freedesktop.DBus">
  <method name="NameHasOwner">
   <arg direction="in" type="s"/>
   <arg direction="out" type="b"/>
  </method>
 </interface>
</node>`;
