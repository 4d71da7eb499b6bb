// org.freedesktop.DBus.Properties as every systemd object declares it; the Get and GetAll
// that livetree uses to read unit and manager properties.
export const PROPERTIES_XML = ` <interface name="org.freedesktop.DBus.Properties">
  <method name="Get">
   <arg name="interface_name" direction="in" type="s"/>
   <arg name="property_name" direction="in" type="s"/>
   <arg name="value" direction="out" type="v"/>
  </method>
  <method name="GetAll">
   <arg name="interface_name" direction="in" type="s"/>
   <arg name="props" direction="out" type="a{sv}"/>
  </method>
 </interface>
`;
