export function Profile() {
  const bio = new URLSearchParams(location.search).get("bio");
  return (
    <div>
      <div dangerouslySetInnerHTML={{ __html: bio }} />{/* label: vulnerable CWE-79 */}
      <div>{bio}</div>{/* label: safe CWE-79 */}
    </div>
  );
}
