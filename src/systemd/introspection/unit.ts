// Properties livetree reads from a unit object (/org/freedesktop/systemd1/unit/...), as systemd 252
// declares them. Values are fetched with org.freedesktop.DBus.Properties.GetAll per interface;
// the Unit/Service/Scope declarations document which fields are used and their D-Bus types.
import {PROPERTIES_XML} from './properties.js';
export const UNIT_INTERFACE = 'org.freedesktop.systemd1.Unit';
export const SERVICE_INTERFACE = 'org.freedesktop.systemd1.Service';
export const SCOPE_INTERFACE = 'org.freedesktop.systemd1.Scope';

export const UNIT_XML = `<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
 <interface name="org.freedesktop.systemd1.Unit">
  <property name="Id" type="s" access="read"/>
  <property name="LoadState" type="s" access="read"/>
  <property name="ActiveState" type="s" access="read"/>
  <property name="SubState" type="s" access="read"/>
  <property name="ActiveEnterTimestamp" type="t" access="read"/>
  <property name="Names" type="as" access="read"/>
  <property name="CanStart" type="b" access="read"/>
  <property name="CanStop" type="b" access="read"/>
  <property name="RefuseManualStart" type="b" access="read"/>
  <property name="RefuseManualStop" type="b" access="read"/>
  <property name="StartLimitIntervalUSec" type="t" access="read"/>
  <property name="StartLimitBurst" type="u" access="read"/>
 </interface>
 <interface name="org.freedesktop.systemd1.Service">
  <property name="MainPID" type="u" access="read"/>
  <property name="ControlPID" type="u" access="read"/>
  <property name="Result" type="s" access="read"/>
  <property name="NRestarts" type="u" access="read"/>
  <property name="ExecMainStatus" type="i" access="read"/>
  <property name="ControlGroup" type="s" access="read"/>
  <property name="ExecReload" type="a(sasbttttuii)" access="read"/>
 </interface>
 <interface name="org.freedesktop.systemd1.Scope">
  <property name="Result" type="s" access="read"/>
  <property name="ControlGroup" type="s" access="read"/>
 </interface>
${PROPERTIES_XML}</node>`;
